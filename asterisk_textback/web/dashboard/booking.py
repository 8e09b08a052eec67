"""A call's page and its "Mark booked" form: a manual booking with a value, CSRF-checked.

The form records through :func:`asterisk_textback.bookings.webhook.book_call`, the code path of
``POST /api/v1/bookings``: one manual booking per call (marking it again updates the value),
attributed to that call and its text, then the CRM hook of the booking routes mounted on the
same app (``run`` mounts both; a stand-alone dashboard has no hook).
"""

from __future__ import annotations

from aiohttp import web

from asterisk_textback.bookings.settings import BookingWebhookSettings
from asterisk_textback.bookings.webhook import (
    BOOKINGS,
    BookingSecrets,
    BookingService,
    amount_minor,
    book_call,
)
from asterisk_textback.store.conversations import call_bookings, call_detail
from asterisk_textback.web.dashboard.app import DEPS, local, reading, render
from asterisk_textback.web.dashboard.auth import Session
from asterisk_textback.web.dashboard.csrf import check_session_token, read_form

__all__ = ["booking_service", "call_page", "mark_booked"]

#: The longest value text echoed back into the form after an error.
_ECHO_LIMIT = 40


def booking_service(request: web.Request) -> BookingService:
    """The service's booking routes' settings and CRM hook; a hook-less one without them."""
    service = request.app.get(BOOKINGS)
    if service is not None:
        return service
    deps = request.app[DEPS]
    return BookingService(
        deps.sessions,
        BookingWebhookSettings(),
        BookingSecrets(),
        currency=deps.kpi.currency,
        clock=deps.clock,
    )


async def _render_call(
    request: web.Request,
    session: Session,
    call_id: int,
    *,
    status: int = 200,
    error: str | None = None,
    value: str = "",
) -> web.Response:
    async with reading(request) as db:
        found = await call_detail(db, call_id)
        bookings = [] if found is None else await call_bookings(db, call_id)
    if found is None:
        raise web.HTTPNotFound(text="no such call")
    row, conversation = found
    return render(
        request,
        "call.html",
        session,
        status=status,
        row=row,
        thread=conversation,
        bookings=bookings,
        currency=booking_service(request).currency.upper(),
        error=error,
        value=value,
        saved=error is None and request.query.get("booked") == "1",
    )


async def call_page(request: web.Request, session: Session) -> web.StreamResponse:
    """GET /calls/{id}: one call, its decision, bookings and the caller's thread."""
    return await _render_call(request, session, int(request.match_info["call_id"]))


async def mark_booked(request: web.Request, session: Session) -> web.StreamResponse:
    """POST /calls/{id}/booking: record the call as booked with a value, back to its page."""
    form = await read_form(request)
    check_session_token(request, session, form)
    call_id = int(request.match_info["call_id"])
    service = booking_service(request)
    currency = service.currency.upper()
    given = form.get("value", "")
    text = given.strip() if isinstance(given, str) else ""
    try:
        value = amount_minor(text, currency)
    except ValueError as exc:
        # Nothing is stored: the page comes back with the reason and what was typed.
        return await _render_call(
            request,
            session,
            call_id,
            status=400,
            error=f"Not saved: {exc}.",
            value=text[:_ECHO_LIMIT],
        )
    try:
        await book_call(service, call_id, value_minor=value, currency=currency)
    except LookupError:
        raise web.HTTPNotFound(text="no such call") from None
    location = local(request, f"/calls/{call_id}?booked=1#booking")
    return web.Response(status=303, headers={"Location": location})
