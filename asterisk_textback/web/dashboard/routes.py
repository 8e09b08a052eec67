"""The HTML pages: login/logout, Overview, Calls, Conversations, Experiments, Calculator, Health."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from asterisk_textback.calls.model import Outcome
from asterisk_textback.kpi.calculator import (
    calculator_from_history,
    revenue_left_on_table,
)
from asterisk_textback.kpi.definitions import DEFINITIONS, SECTIONS
from asterisk_textback.kpi.headline import headline
from asterisk_textback.kpi.periods import period_words
from asterisk_textback.policy.decision import Action as DecisionAction
from asterisk_textback.store.call_pages import CallFilter, CursorError, list_calls
from asterisk_textback.store.conversations import list_conversations
from asterisk_textback.store.daily_series import (
    last_errors,
    outbox_depth,
)
from asterisk_textback.web.dashboard.abtests import JUDGED_ON
from asterisk_textback.web.dashboard.app import (
    DEPS,
    experiments_report,
    page_guard,
    reading,
    render,
    report,
    request_period,
)
from asterisk_textback.web.dashboard.auth import Session
from asterisk_textback.web.dashboard.booking import call_page, mark_booked
from asterisk_textback.web.dashboard.charts import Series, line_chart
from asterisk_textback.web.dashboard.evidence import add_evidence_routes
from asterisk_textback.web.dashboard.inbox import add_inbox_routes
from asterisk_textback.web.dashboard.login import add_login_routes
from asterisk_textback.web.dashboard.overview_data import overview_data
from asterisk_textback.web.health import health_reasons
from asterisk_textback.wording.times import people_time

__all__ = ["add_page_routes"]

PAGE_SIZE = 50


async def overview(request: web.Request, session: Session) -> web.StreamResponse:
    """GET /: the KPI cards and per-day charts for a period and DID."""
    deps = request.app[DEPS]
    period, text, did = request_period(request)
    currency = deps.kpi.currency.upper()

    # One report-worker call (off this loop, off this GIL) reads every figure of the page.
    data = await report(
        request,
        overview_data,
        period,
        did,
        deps.kpi,
        deps.zone,
        labels=dict(deps.labels),
        controls=dict(deps.controls),
    )
    kpi_report, series, views = data.kpis, data.series, data.views
    lift = next((c for v in views for c in v.results["reply"].comparisons), None)
    days = series.days
    charts = [
        line_chart(
            "Missed-call rate",
            days,
            [Series("missed / inbound", series.missed_rate, "s1")],
            fmt=lambda v: f"{v * 100:.0f}%",
            top=1.0,
            whole=False,
        ),
        line_chart(
            "Texts sent and delivered",
            days,
            [Series("sent", series.sent, "s1"), Series("delivered", series.delivered, "s2")],
        ),
        line_chart("Replies", days, [Series("replies", series.replies, "s3")]),
        line_chart("Bookings", days, [Series("bookings", series.bookings, "s4")]),
        line_chart(
            f"Revenue ({currency})",
            days,
            [Series("revenue", series.revenue, "s5")],
            fmt=lambda v: f"{v:,.0f}",
        ),
    ]
    sections = [(title, [kpi_report[key] for key in keys]) for title, keys in SECTIONS]
    return render(
        request,
        "overview.html",
        session,
        report=kpi_report,
        headline=headline(kpi_report, deps.kpi.average_order_value),
        sections=sections,
        charts=charts,
        period_text=text,
        period_words=period_words(period, deps.zone),
        did=did or "",
        lift=lift,
        lift_definition=DEFINITIONS["ab_lift"],
        has_calls=bool(kpi_report.value("inbound_calls")),
        unverified_held=data.unverified_held,
    )


def _choice(request: web.Request, name: str, allowed: set[str]) -> str | None:
    value = request.query.get(name, "").strip()
    if not value:
        return None
    if value not in allowed:
        raise web.HTTPBadRequest(text=f"{name}: must be one of {', '.join(sorted(allowed))}")
    return value


#: Dates the Calls filters accept (beyond them, local midnights overflow in some zones).
_FIRST_DAY, _LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def _date(request: web.Request, name: str) -> date | None:
    value = request.query.get(name, "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value) if len(value) <= 10 else None
    except ValueError:
        day = None
    if day is None:
        raise web.HTTPBadRequest(text=f"{name}: not a date (YYYY-MM-DD)")
    if not _FIRST_DAY <= day <= _LAST_DAY:
        raise web.HTTPBadRequest(text=f"{name}: must lie between {_FIRST_DAY} and {_LAST_DAY}")
    return day


def call_filter(request: web.Request) -> CallFilter:
    """The Calls filters from the query string; 400 on a bad value."""
    outcome = _choice(request, "outcome", {o.value for o in Outcome})
    action = _choice(request, "decision", {a.value for a in DecisionAction})
    return CallFilter(
        outcome=None if outcome is None else Outcome(outcome),
        action=None if action is None else DecisionAction(action),
        did=request.query.get("did", "").strip() or None,
        since=_date(request, "from"),
        until=_date(request, "to"),
        search=request.query.get("q", "").strip() or None,
        zone=request.app[DEPS].zone,
    )


async def calls(request: web.Request, session: Session) -> web.StreamResponse:
    """GET /calls: every call, filtered and searched, newest first, 50 a page."""
    flt = call_filter(request)
    async with reading(request) as db:
        try:
            page = await list_calls(db, flt, PAGE_SIZE, request.query.get("cursor") or None)
        except CursorError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
    query = {k: v for k, v in request.query.items() if k != "cursor" and v}
    return render(
        request,
        "calls.html",
        session,
        page=page,
        query=query,
        outcomes=[o.value for o in Outcome],
        decisions=[a.value for a in DecisionAction],
        cursor=request.query.get("cursor", ""),
    )


async def conversations(request: web.Request, session: Session) -> web.StreamResponse:
    """GET /conversations: callers we texted or heard from, what needs an answer first."""
    search = request.query.get("q", "").strip() or None
    staff = request.app[DEPS].staff_numbers
    async with reading(request) as db:
        try:
            page = await list_conversations(
                db, PAGE_SIZE, request.query.get("cursor") or None, search, staff
            )
        except CursorError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
    return render(request, "conversations.html", session, page=page, q=search or "")


async def experiments(request: web.Request, session: Session) -> web.StreamResponse:
    """GET /experiments: variants, rates with 95% intervals, lift, p-values, the 2x2 grid."""
    deps = request.app[DEPS]
    period, text, did = request_period(request)

    views = await experiments_report(request, period, did)
    return render(
        request,
        "experiments.html",
        session,
        views=views,
        metrics=JUDGED_ON,
        period_text=text,
        did=did or "",
        min_trials=deps.kpi.min_sample_per_variant,
    )


def _number(request: web.Request, name: str, low: float, high: float) -> float | None:
    value = request.query.get(name, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name}: not a number") from None
    if not low <= number <= high:
        raise web.HTTPBadRequest(text=f"{name}: must lie in [{low:g}, {high:g}]")
    return number


async def calculator(request: web.Request, session: Session) -> web.StreamResponse:
    """GET /calculator: missed calls x close rate x average order value, from history."""
    deps = request.app[DEPS]
    period, text, did = request_period(request)
    rate = _number(request, "close_rate", 0, 100)
    value = _number(request, "aov", 0, 1e9)
    missed = _number(request, "missed", 0, 1e9)
    history = await report(request, calculator_from_history, period, did, deps.kpi)
    result = revenue_left_on_table(
        history.missed_calls if missed is None else int(missed),
        history.average_order_value if value is None else value,
        deps.kpi.close_rate if rate is None else rate / 100,
        deps.kpi.close_rate_band,
        history.value_source if value is None else "entered",
    )
    return render(
        request,
        "calculator.html",
        session,
        result=result,
        history=history,
        period_text=text,
        did=did or "",
        currency=deps.kpi.currency.upper(),
    )


async def health(request: web.Request, session: Session) -> web.StreamResponse:
    """GET /health: AMI and provider state, outbox depth by status, the latest errors."""
    deps = request.app[DEPS]
    live = None if deps.health is None else deps.health()
    async with reading(request) as db:
        depth = await outbox_depth(db)
        errors, parked = await last_errors(db)
    reasons = []
    if live is not None:
        waiting = depth.get("queued", 0) + depth.get("sending", 0)
        latest = f"{errors[0].error} ({people_time(errors[0].at, deps.zone)})" if errors else None
        reasons = health_reasons(live[0], live[1], waiting, latest, deps.zone)
    return render(
        request,
        "health.html",
        session,
        live=live,
        reasons=reasons,
        depth=depth,
        errors=errors,
        parked=parked,
    )


def add_page_routes(app: web.Application) -> None:
    """Register the login routes and the pages on ``app``."""
    add_login_routes(app)
    app.router.add_get("/", page_guard(overview))
    app.router.add_get("/calls", page_guard(calls))
    app.router.add_get(r"/calls/{call_id:\d{1,18}}", page_guard(call_page))
    app.router.add_post(r"/calls/{call_id:\d{1,18}}/booking", page_guard(mark_booked))
    app.router.add_get("/conversations", page_guard(conversations))
    add_inbox_routes(app)
    add_evidence_routes(app)
    app.router.add_get("/experiments", page_guard(experiments))
    app.router.add_get("/calculator", page_guard(calculator))
    app.router.add_get("/health", page_guard(health))
