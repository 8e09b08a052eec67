"""``/console/``: the integrator's login, the tenant table and ``/console/api/tenants``.

Mounted by the host on its root app next to the tenants' apps. Disabled (the default), it
adds no route at all, so ``/console/`` is a plain 404.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC
from pathlib import Path
from typing import Any, Final

import jinja2
from aiohttp import web
from yarl import URL

from asterisk_textback.calls.utc import utc
from asterisk_textback.tenancy.directory import TenantDirectory
from asterisk_textback.web.clientaddr import client_address
from asterisk_textback.web.console.auth import COOKIE, ConsoleAuth
from asterisk_textback.web.console.figures import PERIOD, tenant_rows
from asterisk_textback.web.console.settings import ConsoleSettings
from asterisk_textback.web.dashboard.app import CSP
from asterisk_textback.web.dashboard.app import HERE as DASHBOARD
from asterisk_textback.web.dashboard.auth import Session, tokens_equal, verify_password
from asterisk_textback.web.dashboard.csrf import read_form
from asterisk_textback.web.dashboard.limiter import LoginLimiter, Reservation
from asterisk_textback.wording.times import people_time

__all__ = ["add_console"]

HERE: Final = Path(__file__).parent
#: The login form's double-submit CSRF cookie (path /console/login).
LOGIN_COOKIE: Final = "tb_console_csrf"
_LOGIN_PATH: Final = "/console/login"
#: Failed console logins per client address, and on the account, per five minutes.
_ATTEMPTS, _ACCOUNT_ATTEMPTS, _WINDOW = 5, 20, 300.0

_STATE: web.AppKey[Console] = web.AppKey("console")


class Console:
    """The console's collaborators, held on the app (no module state)."""

    def __init__(
        self, directory: TenantDirectory, auth: ConsoleAuth, clock: Callable[[], float]
    ) -> None:
        """The console of ``directory``."""
        self.directory = directory
        self.auth = auth
        self.clock = clock
        self.limiter = LoginLimiter(_WINDOW)
        self.jinja = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.jinja.filters["when"] = _when


def _when(at: float | None) -> str:
    """An epoch time as people read it, in UTC (the tenants' zones differ)."""
    return "" if at is None else people_time(utc(at), UTC)


def _harden(response: web.StreamResponse) -> web.StreamResponse:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _render(request: web.Request, name: str, *, status: int = 200, **context: Any) -> web.Response:
    html = request.app[_STATE].jinja.get_template(name).render(**context)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    _harden(response)
    return response


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and URL(origin).host != request.url.host:
        raise web.HTTPForbidden(text="cross-origin form post refused")


def _login_page(
    request: web.Request, *, status: int = 200, error: str | None = None
) -> web.Response:
    token = secrets.token_urlsafe(32)
    response = _render(request, "login.html", status=status, csrf=token, error=error)
    secure = request.app[_STATE].auth.settings.cookie_secure
    response.set_cookie(
        LOGIN_COOKIE, token, path=_LOGIN_PATH, httponly=True, samesite="Strict", secure=secure
    )
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    """GET /console/login: the form (or on to the table when already signed in)."""
    if request.app[_STATE].auth.session(request) is not None:
        return _redirect("/console/")
    return _login_page(request)


async def login(request: web.Request) -> web.StreamResponse:
    """POST /console/login: CSRF, the attempt limiter, the password; a session cookie."""
    console = request.app[_STATE]
    settings = console.auth.settings
    form = await read_form(request)
    _check_origin(request)
    cookie, given = request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf")
    if not cookie or not isinstance(given, str) or not given or not tokens_equal(given, cookie):
        raise web.HTTPForbidden(text="missing or forged CSRF token")
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    client = f"addr:{client_address(request, ())}"
    limits = {client: _ATTEMPTS, "acct": _ACCOUNT_ATTEMPTS}
    reservation = console.limiter.reserve(limits, console.clock(), free={"acct": _ATTEMPTS})
    if not isinstance(reservation, Reservation):
        response = _login_page(request, status=429, error="Too many failed logins; wait.")
        response.headers["Retry-After"] = str(math.ceil(reservation))
        return response
    ok = False
    if settings.password_hash is not None and password:
        # Always pay for the hash, so a wrong username takes as long as a wrong password.
        ok = await asyncio.to_thread(verify_password, password, settings.password_hash)
        ok = tokens_equal(username, settings.username) and ok
    if not ok:
        return _login_page(request, status=401, error="Wrong username or password.")
    console.limiter.release(reservation, forget=client)
    session = console.auth.store.create(settings.username, console.clock())
    response = _redirect("/console/")
    response.set_cookie(
        COOKIE,
        session.session_id,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=settings.cookie_secure,
        max_age=int(settings.session_lifetime.total_seconds()),
    )
    response.del_cookie(LOGIN_COOKIE, path=_LOGIN_PATH)
    return _harden(response)


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /console/logout (CSRF-checked): end the console session, from any page."""
    auth = request.app[_STATE].auth
    session = auth.session(request)
    if session is not None:
        form = await read_form(request)
        _check_origin(request)
        given = form.get("csrf")
        if not isinstance(given, str) or not given or not tokens_equal(given, session.csrf_token):
            raise web.HTTPForbidden(text="missing or forged CSRF token")
        auth.store.delete(session.session_id)
    response = _redirect(_LOGIN_PATH)
    response.del_cookie(COOKIE, path="/")
    return _harden(response)


async def to_table(request: web.Request) -> web.StreamResponse:
    """GET /console: on to /console/ (cookies and links live under the slash)."""
    return _redirect("/console/")


def _signed_in(request: web.Request) -> Session:
    session = request.app[_STATE].auth.session(request)
    if session is None:
        raise web.HTTPSeeOther(_LOGIN_PATH)
    return session


async def table(request: web.Request) -> web.StreamResponse:
    """GET /console/: every tenant's health and headline figures, and the refused files."""
    session = _signed_in(request)
    console = request.app[_STATE]
    rows = await tenant_rows(console.directory.views(), console.clock)
    return _render(
        request,
        "tenants.html",
        session=session,
        rows=rows,
        refused=console.directory.refused(),
        period=PERIOD,
    )


async def api_tenants(request: web.Request) -> web.StreamResponse:
    """GET /console/api/tenants: the table as JSON (console Bearer token or session)."""
    console = request.app[_STATE]
    if console.auth.admits(request) is None:
        return _harden(
            web.json_response(
                {"error": "unauthorized", "detail": "console Bearer token or login required"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="asterisk-textback console"'},
            )
        )
    rows = await tenant_rows(console.directory.views(), console.clock)
    refused = [
        {"id": r.id, "file": str(r.path), "reason": r.reason} for r in console.directory.refused()
    ]
    return _harden(
        web.json_response({"tenants": [row.as_dict() for row in rows], "refused": refused})
    )


def console_auth(
    settings: ConsoleSettings, environ: Mapping[str, str], clock: Callable[[], float]
) -> ConsoleAuth:
    """The console's sign-in (its sessions and token), made before the tenants start."""
    return ConsoleAuth(settings, settings.api_token(environ), clock)


def add_console(
    app: web.Application,
    directory: TenantDirectory,
    settings: ConsoleSettings,
    environ: Mapping[str, str],
    clock: Callable[[], float],
    *,
    auth: ConsoleAuth | None = None,
) -> ConsoleAuth:
    """Mount ``/console/`` on ``app`` when enabled; the auth every tenant's dashboard consults.

    ``auth``: the one the tenants' dashboards were given (:func:`console_auth`); a new one
    otherwise.
    """
    auth = auth or console_auth(settings, environ, clock)
    if not settings.enabled:
        return auth
    app[_STATE] = Console(directory, auth, clock)
    app.router.add_get("/console", to_table)
    app.router.add_get("/console/", table)
    app.router.add_get(_LOGIN_PATH, login_form)
    app.router.add_post(_LOGIN_PATH, login)
    app.router.add_post("/console/logout", logout)
    app.router.add_get("/console/api/tenants", api_tenants)
    app.router.add_static("/console/static/", DASHBOARD / "static", name="console_static")
    return auth
