"""Booking callbacks: ``POST /bookings/{webhook,calcom,calendly}`` and ``POST /api/v1/bookings``.

Per request: size check (413) → signature (401 when missing, 403 when it does not verify;
nothing is stored) → JSON and payload checks (400) → ``record_booking``, attributed by the
link's tracking token first, else by phone within the window → the CRM hook → 200.
Retries are stored once: by the tool's booking id, or for a generic post without ``id`` by
the hash of its body. A route whose secret is not configured answers 404.

- generic: ``X-Textback-Signature: sha256=<hex HMAC-SHA256(secret, body)>``;
- Cal.com: ``X-Cal-Signature-256: <hex HMAC-SHA256(secret, body)>``;
- Calendly: ``Calendly-Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256(key, "<t>." + body)>``
  with ``t`` no further than ``calendly_tolerance_seconds`` from now;
- API: ``Authorization: Bearer <token>``; ``{"call_id", "value", "currency"}`` marks a call
  booked through :func:`book_call` (the dashboard's "Mark booked" form uses it too), any other
  body is read as the generic payload.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.bookings.payloads import (
    BookingPayloadError,
    parse_calcom,
    parse_calendly,
    parse_generic,
)
from asterisk_textback.bookings.settings import BookingWebhookSettings
from asterisk_textback.calls.utc import utc
from asterisk_textback.errors import ConfigError
from asterisk_textback.kpi.conversions import NewBooking
from asterisk_textback.kpi.metrics import minor_exponent
from asterisk_textback.store.bookings import mark_booked, record_booking
from asterisk_textback.store.models import Booking
from asterisk_textback.store.uow import unit_of_work

log = logging.getLogger(__name__)

__all__ = [
    "BOOKINGS",
    "BookingSecrets",
    "BookingService",
    "add_booking_routes",
    "amount_minor",
    "book_call",
    "calendly_signature",
]

GENERIC_HEADER: Final = "X-Textback-Signature"
CALCOM_HEADER: Final = "X-Cal-Signature-256"
CALENDLY_HEADER: Final = "Calendly-Webhook-Signature"


@dataclass(frozen=True, slots=True)
class BookingSecrets:
    """The secrets the routes check, read once at startup (None: that route is off)."""

    generic: bytes | None = None
    calcom: bytes | None = None
    calendly: bytes | None = None
    api_token: str | None = None
    tracking: str = ""

    @classmethod
    def from_env(
        cls, settings: BookingWebhookSettings, environ: Mapping[str, str]
    ) -> BookingSecrets:
        """Read each ``*_env`` variable; one that is named but unset is a ``ConfigError``."""

        def read(key: str) -> str | None:
            name = getattr(settings, key)
            if name is None:
                return None
            if not environ.get(name):
                raise ConfigError(f"bookings.{key}: environment variable {name} is not set")
            return environ[name]

        def key(name: str) -> bytes | None:
            value = read(name)
            return None if value is None else value.encode()

        return cls(
            generic=key("generic_secret_env"),
            calcom=key("calcom_secret_env"),
            calendly=key("calendly_secret_env"),
            api_token=read("api_token_env"),
            tracking=read("tracking_secret_env") or "",
        )


OnBooking = Callable[[Booking], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class BookingService:
    """Everything the booking routes need, set on the app under :data:`BOOKINGS`."""

    sessions: async_sessionmaker[AsyncSession]
    settings: BookingWebhookSettings
    secrets: BookingSecrets
    #: Phone numbers in payloads are read in this region; values default to this currency.
    region: str = "US"
    currency: str = "USD"
    window: timedelta = timedelta(days=14)
    clock: Callable[[], float] = time.time
    #: Called with each stored booking (e.g. ``CrmHooks.booking_recorded``).
    on_booking: OnBooking | None = None


BOOKINGS: web.AppKey[BookingService] = web.AppKey("bookings")
Parser = Callable[..., NewBooking | None]
_PARSERS: Final[Mapping[str, Parser]] = {
    "webhook": parse_generic,
    "calcom": parse_calcom,
    "calendly": parse_calendly,
}


def _hex_hmac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def calendly_signature(key: bytes, timestamp: int, body: bytes) -> str:
    """The ``Calendly-Webhook-Signature`` value Calendly sends for ``body`` at ``timestamp``."""
    return f"t={timestamp},v1={_hex_hmac(key, f'{timestamp}.'.encode() + body)}"


def _same(given: str, expected: str) -> bool:
    # compare_digest refuses non-ASCII str (TypeError: a 500): compare the bytes instead.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _verify(source: str, key: bytes, header: str, body: bytes, service: BookingService) -> bool:
    if source == "webhook":
        return _same(header.strip(), f"sha256={_hex_hmac(key, body)}")
    if source == "calcom":
        return _same(header.strip().lower().removeprefix("sha256="), _hex_hmac(key, body))
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    text = parts.get("t", "")
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return False  # not a Unix time (and 10**400 would overflow the float comparison)
    stamp = int(text)
    if abs(service.clock() - stamp) > service.settings.calendly_tolerance_seconds:
        return False  # a replay of an old, genuinely signed request
    expected = calendly_signature(key, stamp, body).split(",v1=", 1)[1]
    return _same(parts.get("v1", ""), expected)


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The body; 413 as soon as it exceeds ``limit`` bytes."""
    too_large = web.HTTPRequestEntityTooLarge(
        max_size=limit, actual_size=request.content_length or limit + 1
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(16 * 1024):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="body is not JSON\n") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="body is not a JSON object\n")
    return data


async def _store(service: BookingService, new: NewBooking) -> web.Response:
    now = utc(service.clock())
    try:
        async with unit_of_work(service.sessions) as session:
            row = await record_booking(
                session, new, now=now, window=service.window, secret=service.secrets.tracking
            )
    except Exception:
        # Nothing acknowledged: the tool retries, and what was committed dedupes.
        log.exception("could not store a %s booking", new.source)
        raise web.HTTPServiceUnavailable(text="try again\n") from None
    return await _stored(service, row)


async def _stored(service: BookingService, row: Booking) -> web.Response:
    if service.on_booking is not None:
        await service.on_booking(row)
    return _answer(row)


def _answer(row: Booking) -> web.Response:
    return web.json_response(
        {
            "booking_id": row.id,
            "status": str(row.status),
            "call_id": row.call_id,
            "attributed_by": row.attributed_by,
        }
    )


async def handle_booking_webhook(request: web.Request) -> web.StreamResponse:
    """Verify, parse and store one booking tool's callback."""
    service = request.app[BOOKINGS]
    source = request.match_info["source"]
    key, header_name = {
        "webhook": (service.secrets.generic, GENERIC_HEADER),
        "calcom": (service.secrets.calcom, CALCOM_HEADER),
        "calendly": (service.secrets.calendly, CALENDLY_HEADER),
    }[source]
    if key is None:
        raise web.HTTPNotFound(text="booking source not configured\n")
    body = await _read_limited(request, service.settings.max_body_bytes)
    header = request.headers.get(header_name)
    if not header:
        raise web.HTTPUnauthorized(text="signature required\n")
    if not _verify(source, key, header, body, service):
        log.warning("refused %s booking webhook from %s: bad signature", source, request.remote)
        raise web.HTTPForbidden(text="signature does not verify\n")
    data = _json_object(body)
    now = utc(service.clock())
    try:
        new = _PARSERS[source](data, now=now, region=service.region, currency=service.currency)
    except BookingPayloadError as exc:
        log.warning("malformed %s booking webhook: %s", source, exc)
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    if new is None:
        return web.json_response({"ignored": True})
    if new.external_id is None:
        # A retry of a post without an id is byte-identical: its hash names it.
        new = replace(new, external_id="sha256:" + hashlib.sha256(body).hexdigest()[:40])
    return await _store(service, new)


#: The largest amount a manual booking may carry (in major units): a typo guard.
MAX_AMOUNT: Final = Decimal(10) ** 9


def amount_minor(value: Any, currency: str) -> int | None:
    """An amount (``120.5``, ``"120.50"``) in ``currency``'s minor units; None for none.

    ValueError, with a message fit for a person, when it is not a number, negative, beyond
    :data:`MAX_AMOUNT` or more precise than the currency (``1.005`` dollars).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("value is not a number")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise ValueError("value is not a number") from None
    if not amount.is_finite():
        raise ValueError("value is not a number")
    if amount < 0:
        raise ValueError("value must not be negative")
    if amount > MAX_AMOUNT:
        raise ValueError(f"value must be at most {MAX_AMOUNT:,}")
    minor = amount.scaleb(minor_exponent(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"value has more decimals than {currency} has")
    return int(minor)


async def book_call(
    service: BookingService, call_id: int, *, value_minor: int | None, currency: str | None = None
) -> Booking:
    """Mark a call booked (the API's and the dashboard's action), then run the CRM hook.

    Raises ``LookupError`` for an unknown call.
    """
    now = utc(service.clock())
    money = (currency or service.currency).upper()
    async with unit_of_work(service.sessions) as session:
        row = await mark_booked(session, call_id, value_minor=value_minor, currency=money, now=now)
    if service.on_booking is not None:
        await service.on_booking(row)
    return row


async def handle_api_booking(request: web.Request) -> web.StreamResponse:
    """``POST /api/v1/bookings``: mark a call booked, or report a booking (bearer token)."""
    service = request.app[BOOKINGS]
    token = service.secrets.api_token
    if token is None:
        raise web.HTTPNotFound(text="bookings API not configured\n")
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer ") or not _same(given[7:].strip(), token):
        raise web.HTTPUnauthorized(
            text="bearer token required\n", headers={"WWW-Authenticate": "Bearer"}
        )
    data = _json_object(await _read_limited(request, service.settings.max_body_bytes))
    now = utc(service.clock())
    call_id = data.get("call_id")
    if call_id is None:
        try:
            new = parse_generic(data, now=now, region=service.region, currency=service.currency)
        except BookingPayloadError as exc:
            raise web.HTTPBadRequest(text=f"{exc}\n") from None
        return await _store(service, replace(new, source="api"))
    if not isinstance(call_id, int) or isinstance(call_id, bool):
        raise web.HTTPBadRequest(text="call_id must be an integer\n")
    currency = str(data.get("currency") or service.currency).upper()[:3]
    try:
        value = amount_minor(data.get("value"), currency)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    try:
        row = await book_call(service, call_id, value_minor=value, currency=currency)
    except LookupError:
        raise web.HTTPNotFound(text="no such call\n") from None
    return _answer(row)


def add_booking_routes(app: web.Application, service: BookingService) -> None:
    """Register the booking routes on ``app`` (mount on the service's web app)."""
    app[BOOKINGS] = service
    app.router.add_post("/bookings/{source:webhook|calcom|calendly}", handle_booking_webhook)
    app.router.add_post("/api/v1/bookings", handle_api_booking)
