"""The two-way inbox: a Conversation page with a reply box, "Mark handled", and the reply API.

A staff reply is queued in the outbox (kind ``staff_reply``) in one unit of work with the
consent check (``store.replies``), from the business number last used with the caller; the
dispatcher of ``run`` sends it through the provider. The form is CSRF-checked; the API takes
the Bearer token (the reply is recorded as sent by ``api``) or a login session with the
session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from aiohttp import web

from asterisk_textback.calls.utc import utc
from asterisk_textback.store.conversations import thread
from asterisk_textback.store.replies import (
    ReplyRefused,
    StaffReply,
    known_number,
    mark_handled,
    mark_seen,
    queue_staff_reply,
)
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.templates.segments import SegmentInfo, count_segments
from asterisk_textback.web.dashboard.app import (
    DEPS,
    JINJA,
    api_guard,
    current_session,
    local,
    page_guard,
    reading,
    render,
)
from asterisk_textback.web.dashboard.auth import Session, tokens_equal
from asterisk_textback.web.dashboard.csrf import check_session_token, read_form
from asterisk_textback.wording.labels import (
    decision_label,
    inbound_label,
    message_kind_label,
    outcome_label,
    status_label,
)
from asterisk_textback.wording.times import people_time

__all__ = [
    "MAX_CHARS",
    "MAX_SEGMENTS",
    "BadBody",
    "add_inbox_routes",
    "check_body",
    "kind_label",
]

#: The longest reply: 1,600 characters and 10 SMS parts, whichever comes first.
MAX_CHARS: Final = 1600
MAX_SEGMENTS: Final = 10
#: The form's one-time key (a double click sends once); the API's Idempotency-Key.
_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
_E164 = r"{e164:\+?\d{1,15}}"


def kind_label(direction: str, kind: str) -> str:
    """A thread item's kind in words."""
    if direction == "in":
        return inbound_label(kind)
    return message_kind_label(kind)


class BadBody(ValueError):
    """A reply body that cannot be sent; the message names the field and the limit."""


def check_body(raw: object) -> tuple[str, SegmentInfo]:
    """The body to send (line ends as ``\\n``) and its count; :class:`BadBody` if refused."""
    if not isinstance(raw, str):
        raise BadBody("body: missing")
    body = raw.replace("\r\n", "\n").replace("\r", "\n")
    if not body.strip():
        raise BadBody("body: empty; write the text to send")
    if len(body) > MAX_CHARS:
        raise BadBody(f"body: {len(body):,} characters; at most {MAX_CHARS:,}")
    info = count_segments(body)
    if info.segments > MAX_SEGMENTS:
        raise BadBody(f"body: {info.segments} SMS parts ({info.encoding}); at most {MAX_SEGMENTS}")
    return body, info


def _e164(request: web.Request) -> str:
    # As stored: E.164, or the digits of a short code that texted us.
    return request.match_info["e164"]


def _source(source: str | None) -> str:
    if source is None:
        return "reason not recorded"
    how, _, word = source.partition(":")
    if how == "sms" and word:
        return f"they texted {word.upper()}"
    if how == "provider":
        return "the SMS provider reported the number as opted out"
    return f"recorded by {source}"


def refusal_text(exc: ReplyRefused, request: web.Request) -> str:
    """Why a reply was refused, for a person (times in the business's zone)."""
    if exc.code != "opted_out":
        return exc.detail
    when = people_time(exc.opted_out_at, request.app[DEPS].zone)
    since = f" on {when}" if when else ""
    return (
        f"Not sent: this number opted out{since} ({_source(exc.source)}). "
        "No text may be sent to it until they text START."
    )


@dataclass(frozen=True, slots=True)
class _Form:
    error: str | None = None
    body: str = ""
    status: int = 200


def _now(request: web.Request) -> datetime:
    return utc(request.app[DEPS].clock())


async def _page(request: web.Request, session: Session, form: _Form) -> web.Response:
    e164 = _e164(request)
    async with reading(request) as db:
        found = await thread(db, e164)
    if not found.items and not found.calls:
        raise web.HTTPNotFound(text="no texts or calls with this number")
    if form.status == 200:
        async with unit_of_work(request.app[DEPS].sessions) as db:
            await mark_seen(db, e164, now=_now(request))
    return render(
        request,
        "thread.html",
        session,
        status=form.status,
        thread=found,
        error=form.error,
        body=form.body,
        nonce=secrets.token_urlsafe(16),
        sent=request.query.get("sent", "").isdigit(),
        handled_now=request.query.get("handled") == "1",
        max_chars=MAX_CHARS,
        max_segments=MAX_SEGMENTS,
        live=request.app[DEPS].on_queued is not None,
    )


async def conversation(request: web.Request, session: Session) -> web.StreamResponse:
    """GET /conversations/{e164}: the thread, the reply box; marks the conversation read."""
    return await _page(request, session, _Form())


async def thread_items(request: web.Request, session: Session) -> web.StreamResponse:
    """GET /conversations/{e164}/items: the thread alone (the page refreshes statuses);
    404 for a number this business never texted or heard from, as the page itself."""
    async with reading(request) as db:
        found = await thread(db, _e164(request))
    if not found.items and not found.calls:
        raise web.HTTPNotFound(text="no texts or calls with this number")
    return render(request, "_thread.html", session, thread=found)


async def _queue(
    request: web.Request, e164: str, body: str, info: SegmentInfo, sent_by: str, key: str
) -> int:
    deps = request.app[DEPS]
    reply = StaffReply(e164, body, info.segments, info.encoding, sent_by, f"staff:{e164}:{key}")
    async with unit_of_work(deps.sessions) as db:
        message, _ = await queue_staff_reply(
            db, reply, now=_now(request), sender_for=deps.sender_for
        )
    if deps.on_queued is not None:
        deps.on_queued()
    return message.id


async def reply(request: web.Request, session: Session) -> web.StreamResponse:
    """POST /conversations/{e164}/reply: queue a staff reply, back to the thread."""
    form = await read_form(request)
    check_session_token(request, session, form)
    raw = form.get("body")
    typed = raw[: MAX_CHARS * 2] if isinstance(raw, str) else ""
    try:
        body, info = check_body(raw)
    except BadBody as exc:
        return await _page(request, session, _Form(f"Not sent: {exc}.", typed, 400))
    nonce = form.get("nonce")
    key = nonce if isinstance(nonce, str) and _KEY.fullmatch(nonce) else secrets.token_hex(16)
    e164 = _e164(request)
    try:
        message_id = await _queue(request, e164, body, info, session.username, key)
    except ReplyRefused as exc:
        status = {"unknown": 404, "opted_out": 409}.get(exc.code, 409)
        if status == 404:
            raise web.HTTPNotFound(text=exc.detail) from None
        return await _page(request, session, _Form(refusal_text(exc, request), typed, status))
    location = local(request, f"/conversations/{e164}?sent={message_id}#reply")
    return web.Response(status=303, headers={"Location": location})


async def handled(request: web.Request, session: Session) -> web.StreamResponse:
    """POST /conversations/{e164}/handled: mark it handled (a new reply reopens it)."""
    form = await read_form(request)
    check_session_token(request, session, form)
    e164 = _e164(request)
    async with unit_of_work(request.app[DEPS].sessions) as db:
        if not await known_number(db, e164):
            raise web.HTTPNotFound(text="no texts or calls with this number")
        await mark_handled(db, e164, now=_now(request))
    location = local(request, f"/conversations/{e164}?handled=1")
    return web.Response(status=303, headers={"Location": location})


def _json_error(status: int, error: str, detail: str, **extra: Any) -> web.Response:
    return web.json_response({"error": error, "detail": detail, **extra}, status=status)


def _api_author(request: web.Request) -> str | web.Response:
    """``api`` for the Bearer token; a session's user when its CSRF header matches."""
    token = request.app[DEPS].api_token
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token is not None and scheme.lower() == "bearer" and tokens_equal(given.strip(), token):
        return "api"
    console = request.app[DEPS].console
    integrator = None if console is None else console.bearer(request)
    if integrator is not None:
        return integrator
    session = current_session(request)
    header = request.headers.get("X-CSRF-Token", "")
    if session is None or not header or not tokens_equal(header, session.csrf_token):
        return _json_error(403, "forbidden", "missing or forged CSRF token (X-CSRF-Token)")
    return session.username


async def api_reply(request: web.Request) -> web.StreamResponse:
    """POST /api/v1/conversations/{e164}/messages: queue a staff reply; 202 with its id."""
    author = _api_author(request)
    if isinstance(author, web.Response):
        return author
    try:
        payload = await request.json()
    except ValueError:
        return _json_error(400, "bad_request", "body: not JSON", field="body")
    if not isinstance(payload, dict):
        return _json_error(400, "bad_request", "body: a JSON object", field="body")
    try:
        body, info = check_body(payload.get("body"))
    except BadBody as exc:
        return _json_error(400, "bad_request", str(exc), field="body")
    given = request.headers.get("Idempotency-Key", "")
    if given and not _KEY.fullmatch(given):
        return _json_error(
            400,
            "bad_request",
            "Idempotency-Key: 8-64 letters, digits, - or _",
            field="Idempotency-Key",
        )
    e164 = _e164(request)
    try:
        message_id = await _queue(request, e164, body, info, author, given or secrets.token_hex(16))
    except ReplyRefused as exc:
        if exc.code == "unknown":
            return _json_error(404, "not_found", exc.detail)
        extra: dict[str, Any] = {}
        if exc.code == "opted_out":
            at = exc.opted_out_at
            extra = {"opted_out_at": None if at is None else at.isoformat(), "source": exc.source}
        return _json_error(409, exc.code, refusal_text(exc, request), **extra)
    return web.json_response(
        {
            "id": message_id,
            "status": "queued",
            "to": e164,
            "segments": info.segments,
            "encoding": info.encoding,
            "sent_by": author,
        },
        status=202,
    )


def add_inbox_routes(app: web.Application) -> None:
    """Register the Conversation page, its forms and the reply API on ``app``."""
    env = app[JINJA]
    env.globals["status_label"] = status_label
    env.globals["kind_label"] = kind_label
    env.globals["outcome_label"] = outcome_label
    env.globals["decision_label"] = decision_label
    app.router.add_get(f"/conversations/{_E164}", page_guard(conversation))
    app.router.add_get(f"/conversations/{_E164}/items", page_guard(thread_items))
    app.router.add_post(f"/conversations/{_E164}/reply", page_guard(reply))
    app.router.add_post(f"/conversations/{_E164}/handled", page_guard(handled))
    app.router.add_post(f"/api/v1/conversations/{_E164}/messages", api_guard(api_reply))
