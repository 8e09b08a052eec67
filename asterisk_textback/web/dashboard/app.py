"""Mounting the dashboard on an aiohttp app: its dependencies, stores, guards and rendering.

Everything mutable (sessions, login failures) lives on the ``web.Application`` under typed
``AppKey``s, so two apps in one process (tests, a demo next to ``run``) never share state.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import quote

import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.utc import utc
from asterisk_textback.kpi.definitions import Kpi, Unit
from asterisk_textback.kpi.metrics import minor_exponent
from asterisk_textback.kpi.periods import Period, parse_period
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.store.uow import reading as store_reading
from asterisk_textback.web.base_path import base_path
from asterisk_textback.web.dashboard.abtests import ExperimentView, experiment_views
from asterisk_textback.web.dashboard.auth import Session, SessionStore, tokens_equal
from asterisk_textback.web.dashboard.cookies import cookie_name
from asterisk_textback.web.dashboard.limiter import LoginLimiter
from asterisk_textback.web.dashboard.settings import DashboardSettings
from asterisk_textback.web.dashboard.worker import Read, ReportBusy, ReportTimeout, ReportWorker
from asterisk_textback.web.headers import secure_headers
from asterisk_textback.web.health import HealthFn
from asterisk_textback.web.networks import Networks
from asterisk_textback.wording.labels import (
    decision_label,
    inbound_label,
    outcome_label,
    reason_label,
    status_label,
)
from asterisk_textback.wording.times import people_time, short_time

if TYPE_CHECKING:
    from asterisk_textback.web.console.auth import ConsoleAuth

__all__ = [
    "COOKIE",
    "DEPS",
    "HERE",
    "LIMITER",
    "STORE",
    "WORKER",
    "DashboardDeps",
    "Handler",
    "api_guard",
    "current_session",
    "harden",
    "local",
    "page_guard",
    "reading",
    "render",
    "report",
    "request_period",
]

T = TypeVar("T")

COOKIE: Final = "tb_session"
HERE: Final = Path(__file__).parent
#: Browsers may run only our own files; nothing may frame the dashboard.
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class DashboardDeps:
    """What the dashboard reads from: settings, the database, KPI inputs, live health."""

    settings: DashboardSettings
    sessions: async_sessionmaker[AsyncSession]
    kpi: KpiSettings = field(default_factory=KpiSettings)
    health: HealthFn | None = None
    #: The JSON API's Bearer token (resolved from ``settings.api_token_env`` by the caller).
    api_token: str | None = None
    #: (experiment, variant) -> (hook, cta) labels, for the 2x2 view.
    labels: Mapping[tuple[str, str], tuple[str | None, str | None]] = field(default_factory=dict)
    #: experiment -> its control variant (default: "control", else the first by name).
    controls: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    #: Zone of the dates in period names ("today", "2026-11").
    zone: tzinfo = UTC
    #: Reverse proxies whose X-Forwarded-For names the client (``web.trusted_proxies``).
    trusted_proxies: Networks = ()
    #: Staff phones (``forwarding.sms_to``): not conversations.
    staff_numbers: tuple[str, ...] = ()
    #: The number to text a caller from, by the DID they called (``provider.sender_for``).
    sender_for: Callable[[str], str] | None = None
    #: Wakes ``run``'s dispatcher after a staff reply is queued (None: it polls).
    on_queued: Callable[[], None] | None = None
    #: The integrator console, whose signed-in super-admin may enter this dashboard.
    console: ConsoleAuth | None = None


DEPS: web.AppKey[DashboardDeps] = web.AppKey("dashboard_deps")
STORE: web.AppKey[SessionStore] = web.AppKey("dashboard_sessions")
LIMITER: web.AppKey[LoginLimiter] = web.AppKey("dashboard_login_limiter")
JINJA: web.AppKey[jinja2.Environment] = web.AppKey("dashboard_jinja")
WORKER: web.AppKey[ReportWorker] = web.AppKey("dashboard_report_worker")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PageHandler = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def reading(request: web.Request) -> AsyncIterator[AsyncSession]:
    """A session for reads: on SQLite a DEFERRED transaction, never the write lock.

    The store begins SQLite transactions IMMEDIATE (right for writers); a page holding that
    lock for a few hundred milliseconds would stall the dispatcher and serialize page loads.
    """
    async with store_reading(request.app[DEPS].sessions) as session:
        yield session


async def report(request: web.Request, fn: Read[T], *args: Any, **kwargs: Any) -> T:
    """``fn(session, *args, **kwargs)`` in a report worker process, off this process's loop.

    ``fn`` is a module-level coroutine function and its arguments and result pickle; 503 when
    the report runs out of time, 429 when too many are already running or waiting.
    """
    try:
        return await request.app[WORKER].run(fn, *args, **kwargs)
    except ReportTimeout as exc:
        raise web.HTTPServiceUnavailable(text=str(exc)) from None
    except ReportBusy as exc:
        # 429: the client (a reload storm, a scraper) asks too much; the server is fine.
        raise web.HTTPTooManyRequests(text=str(exc), headers={"Retry-After": "10"}) from None


async def experiments_report(
    request: web.Request, period: Period, did: str | None
) -> list[ExperimentView]:
    """The A/B results for ``period`` as the pages and the API show them (in a report worker)."""
    deps = request.app[DEPS]
    return await report(
        request,
        experiment_views,
        period,
        did,
        labels=dict(deps.labels),
        controls=dict(deps.controls),
        min_trials=deps.kpi.min_sample_per_variant,
    )


def harden(response: web.StreamResponse) -> web.StreamResponse:
    """Add the security headers every dashboard response carries."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def local(request: web.Request, path: str) -> str:
    """``path`` (one of this app's routes, "/calls") as the browser must ask for it."""
    return base_path(request.app) + path


def current_session(request: web.Request) -> Session | None:
    """The logged-in session of this request (or the integrator's, from the console), or None."""
    deps = request.app[DEPS]
    own = request.cookies.get(cookie_name(request.app, COOKIE))
    session = request.app[STORE].get(own, deps.clock())
    if session is None and deps.console is not None:
        return deps.console.session(request)
    return session


def page_guard(handler: PageHandler) -> Handler:
    """Run ``handler`` for logged-in browsers; send the others to the login form."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        session = current_session(request)
        if session is None:
            back = quote(local(request, request.path_qs), safe="")
            raise web.HTTPSeeOther(local(request, f"/login?next={back}"))
        return harden(await handler(request, session))

    return guarded


def _bearer_ok(request: web.Request, token: str | None) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if token is None or scheme.lower() != "bearer" or not given:
        return False
    return tokens_equal(given.strip(), token)


def _admitted(request: web.Request) -> bool:
    deps = request.app[DEPS]
    if _bearer_ok(request, deps.api_token) or current_session(request) is not None:
        return True
    return deps.console is not None and deps.console.admits(request) is not None


def api_guard(handler: Handler) -> Handler:
    """Run ``handler`` for a valid Bearer token or a logged-in session; 401 JSON otherwise."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if not _admitted(request):
            return harden(
                web.json_response(
                    {"error": "unauthorized", "detail": "Bearer token or login required"},
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="asterisk-textback"'},
                )
            )
        return harden(await handler(request))

    return guarded


#: Longest period text read; the longest legitimate one ("2026-11-01..2026-12-01") has 22.
_MAX_PERIOD_TEXT = 64


def request_period(request: web.Request) -> tuple[Period, str, str | None]:
    """The ``period`` (its text) and ``did`` query parameters; 400 when the period is bad."""
    deps = request.app[DEPS]
    text = request.query.get("period", "").strip() or deps.settings.default_period
    if len(text) > _MAX_PERIOD_TEXT:
        raise web.HTTPBadRequest(text="period: too long")
    now = utc(deps.clock())
    try:
        period = parse_period(text, now, deps.zone)
    except (ValueError, OverflowError) as exc:
        # OverflowError: a date at the calendar's edge (9999-12-31, 0001-01-01) in a zone.
        detail = str(exc) if isinstance(exc, ValueError) else "a date out of range"
        raise web.HTTPBadRequest(text=f"period: {detail}") from None
    if period.start.year < 1970 or period.end.year > 2999:
        raise web.HTTPBadRequest(text="period: must lie between 1970 and 2999")
    longest = deps.settings.max_period_days
    if period.days > longest:
        raise web.HTTPBadRequest(
            text=f"period: longer than {longest} days (web.dashboard.max_period_days)"
        )
    did = request.query.get("did", "").strip() or None
    if did is not None and len(did) > 64:
        raise web.HTTPBadRequest(text="did: too long")
    return period, text, did


def shown(value: float | None, unit: Unit, currency: str, note: str | None = None) -> str:
    """A KPI value as the cards show it (``note`` instead of "n/a" when there is one)."""
    if value is None:
        return note or "n/a"
    if unit == Unit.RATIO:
        return f"{value * 100:.1f}%"
    if unit == Unit.SECONDS:
        return f"{value:.1f} s"
    if unit == Unit.MONEY:
        return f"{value:,.2f} {currency}"
    return f"{value:,.0f}"


def _kpi_basis(kpi: Kpi) -> str:
    """``3 of 24 texts sent`` for a rate; ``150 / 2 texts sent`` for money over a count."""
    if kpi.denominator is None:
        return ""
    over = f" {kpi.over}" if kpi.over else ""
    if kpi.numerator is None:
        return f"over {kpi.denominator:,.6g}{over}"
    joint = "of" if kpi.definition.unit == Unit.RATIO else "/"
    return f"{kpi.numerator:,.6g} {joint} {kpi.denominator:,.6g}{over}"


def _percent(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _money(minor: int | None, currency: str | None) -> str:
    if minor is None:
        return "value unknown"
    code = (currency or "").upper()
    digits = minor_exponent(code)
    return f"{minor / 10**digits:,.{digits}f} {code}".rstrip()


def _value(value: object) -> str | None:
    """An enum's value, a plain string as is, None for nothing (labels take strings)."""
    if value is None:
        return None
    raw = getattr(value, "value", value)
    return str(raw)


def zone_name(zone: tzinfo) -> str:
    """The zone's name for captions ("America/New_York"; "UTC")."""
    return str(getattr(zone, "key", None) or zone.tzname(None) or "UTC")


def build_jinja(zone: tzinfo = UTC) -> jinja2.Environment:
    """The template environment: autoescaping everywhere, undefined names are errors.

    ``when`` shows a time as people read it in ``zone`` (the business's), ``short_when`` the
    same without the year and zone; the ``*_label`` filters turn internal values (outcomes,
    reasons, decisions, statuses, inbound kinds) into plain English. The API keeps raw values.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["percent"] = _percent
    env.filters["when"] = lambda at: people_time(at, zone)
    env.filters["short_when"] = lambda at: short_time(at, zone)
    env.filters["outcome_label"] = lambda v: outcome_label(_value(v))
    env.filters["reason_label"] = lambda v: reason_label(_value(v))
    env.filters["status_label"] = lambda v: status_label(_value(v))
    env.filters["inbound_label"] = lambda v: inbound_label(_value(v))
    env.globals["decision_label"] = lambda a, r=None: decision_label(_value(a), _value(r))
    env.globals["zone_name"] = zone_name(zone)
    env.globals["shown"] = shown
    env.globals["basis"] = _kpi_basis
    env.globals["money"] = _money
    return env


def render(
    request: web.Request,
    name: str,
    session: Session | None,
    *,
    status: int = 200,
    **context: Any,
) -> web.Response:
    """Render template ``name`` as an HTML response."""
    template = request.app[JINJA].get_template(name)
    base = base_path(request.app)
    html = template.render(session=session, path=request.path, base=base, **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def install(app: web.Application, deps: DashboardDeps) -> None:
    """Put the dependencies, stores and template environment on ``app``."""
    settings = deps.settings
    app[DEPS] = deps
    app[STORE] = SessionStore(settings.max_sessions, settings.session_lifetime.total_seconds())
    app[LIMITER] = LoginLimiter(settings.login_window_seconds)
    app[JINJA] = build_jinja(deps.zone)
    app[WORKER] = ReportWorker.for_sessions(deps.sessions)
    secure_headers(app, hsts=settings.cookie_secure)

    async def worker_lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[WORKER].start()
        yield
        await app[WORKER].stop()

    app.cleanup_ctx.append(worker_lifecycle)
