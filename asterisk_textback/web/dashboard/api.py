"""``/api/v1``: calls, messages, conversations, KPIs and experiments as JSON (GET only)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from asterisk_textback.kpi.calculator import calculator_from_history
from asterisk_textback.kpi.metrics import compute_kpis
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.call_pages import CursorError, Page, list_calls
from asterisk_textback.store.conversations import (
    call_detail,
    list_conversations,
    list_messages,
    message_dict,
    thread,
)
from asterisk_textback.store.daily_series import daily_series
from asterisk_textback.store.verification import caller_verification_counts
from asterisk_textback.web.base_path import base_path
from asterisk_textback.web.dashboard.app import (
    DEPS,
    Handler,
    api_guard,
    experiments_report,
    harden,
    reading,
    request_period,
)
from asterisk_textback.web.dashboard.app import report as run_report
from asterisk_textback.web.dashboard.openapi import spec
from asterisk_textback.web.dashboard.routes import call_filter

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "PREFIX", "add_api_routes"]

PREFIX = "/api/v1"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _limit(request: web.Request) -> int:
    text = request.query.get("limit", "").strip()
    if not text:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise web.HTTPBadRequest(text=f"limit: an integer in [1, {MAX_LIMIT}]")
    return int(text)


def _cursor(request: web.Request) -> str | None:
    return request.query.get("cursor", "").strip() or None


def _page(page: Page[Any], items: list[dict[str, Any]]) -> web.Response:
    return web.json_response({"items": items, "next_cursor": page.next_cursor})


async def calls(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/calls."""
    flt, limit = call_filter(request), _limit(request)
    async with reading(request) as db:
        page = await list_calls(db, flt, limit, _cursor(request))
    return _page(page, [row.as_dict() for row in page.items])


async def call(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/calls/{call_id}."""
    async with reading(request) as db:
        found = await call_detail(db, int(request.match_info["call_id"]))
    if found is None:
        raise web.HTTPNotFound(text="no such call")
    row, conversation = found
    return web.json_response({"call": row.as_dict(), "thread": conversation.as_dict()})


async def messages(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/messages."""
    text = request.query.get("status", "").strip()
    if text and text not in {s.value for s in MessageStatus}:
        raise web.HTTPBadRequest(text="status: not a message status")
    status = MessageStatus(text) if text else None
    limit = _limit(request)
    async with reading(request) as db:
        page = await list_messages(
            db, limit, _cursor(request), status, request.query.get("to", "").strip() or None
        )
    return _page(page, [message_dict(m) for m in page.items])


async def conversations(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/conversations."""
    limit = _limit(request)
    async with reading(request) as db:
        page = await list_conversations(
            db,
            limit,
            _cursor(request),
            request.query.get("q", "").strip() or None,
            request.app[DEPS].staff_numbers,
        )
    return _page(page, [row.as_dict() for row in page.items])


async def conversation(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/conversations/{e164}."""
    async with reading(request) as db:
        found = await thread(db, request.match_info["e164"])
    if not found.items and not found.calls:
        raise web.HTTPNotFound(text="no texts or calls with this number")
    return web.json_response(found.as_dict())


async def kpis(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/kpis."""
    deps = request.app[DEPS]
    period, _, did = request_period(request)

    report, calculator, series, verification = await asyncio.gather(
        run_report(request, compute_kpis, period, did, deps.kpi),
        run_report(request, calculator_from_history, period, did, deps.kpi),
        run_report(request, daily_series, period, did, deps.kpi.currency.upper(), deps.zone),
        run_report(request, caller_verification_counts, period, did),
    )
    return web.json_response(
        {
            **report.as_dict(),
            "calculator": calculator.as_dict(),
            "daily": series.as_dict(),
            "caller_verification": verification.as_dict(),
        }
    )


async def experiments(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/experiments."""
    deps = request.app[DEPS]
    period, _, did = request_period(request)

    views = await experiments_report(request, period, did)
    return web.json_response(
        {
            "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
            "did": did,
            "min_trials": deps.kpi.min_sample_per_variant,
            "experiments": [view.as_dict() for view in views],
        }
    )


async def openapi(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/openapi.json: this API's OpenAPI 3.1 description (no data, no login)."""
    # Paths start with "/api/v1": the server is the bare mount path ("/t/acme"), or "/".
    return harden(web.json_response(spec(base_path(request.app) or "/")))


def _json_errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except CursorError as exc:
            return web.json_response({"error": "bad_request", "detail": str(exc)}, status=400)
        except web.HTTPClientError as exc:
            body = {"error": exc.reason.lower().replace(" ", "_"), "detail": exc.text}
            kept = {k: v for k, v in exc.headers.items() if k in ("Retry-After", "Allow")}
            return web.json_response(body, status=exc.status, headers=kept)

    return wrapped


def add_api_routes(app: web.Application) -> None:
    """Register ``/api/v1`` on ``app``."""
    routes = [
        ("/calls", calls),
        (r"/calls/{call_id:\d{1,18}}", call),
        ("/messages", messages),
        ("/conversations", conversations),
        (r"/conversations/{e164:\+?\d{1,15}}", conversation),
        ("/kpis", kpis),
        ("/experiments", experiments),
    ]
    for path, handler in routes:
        app.router.add_get(PREFIX + path, api_guard(_json_errors(handler)))
    app.router.add_get(PREFIX + "/openapi.json", openapi)
