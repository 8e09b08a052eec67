"""Bookings: tracking tokens, the attribution rule, and storing a booking once.

Attribution rule: a booking goes to the missed call whose text-back the caller received
within ``window`` before the booking — first by the booking link's tracking token (it names
the exact text, so no window applies), else by phone number: the latest text-back to the
booking's E.164 number that was delivered (or, without a delivery report, sent and not
failed) no later than the booking and no earlier than ``window`` before it (last touch).

Tokens, carried in the link as ``?tb=<token>`` (see ``tracking_url``); the HMAC keeps a
guessed or edited token from attributing revenue to the wrong call:

- call token (what texts carry): ``<call end, unix seconds, base 36>-<8 base-32 characters
  of HMAC-SHA256(secret, "tb:<pbx>:<linkedid>")>``, e.g. ``t3a9xq-k3xq7a2b``. It is known
  before any row exists (the text is rendered before the call and message rows are
  inserted); it is resolved by the indexed ``calls.ended_at`` second, then the HMAC.
- message token (older): ``<message id in base 36>-<6 base-32 characters>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.bookings.status import BookingStatus
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.models import Booking, Call, Message

__all__ = [
    "TOKEN_PARAMS",
    "Attribution",
    "NewBooking",
    "attribute",
    "call_token",
    "link_tool",
    "make_token",
    "mark_booked",
    "parse_call_token",
    "parse_token",
    "record_booking",
    "tracked_link",
    "tracking_url",
]

TEXTBACK_KIND: Final = "textback"
#: The query parameter that carries the token, per booking tool.
TOKEN_PARAMS: Final = {"generic": "tb", "calcom": "metadata[tb]", "calendly": "utm_content"}
_TOKEN = re.compile(r"^([0-9a-z]{1,13})-([a-z2-7]{6})$")
_CALL_TOKEN = re.compile(r"^([0-9a-z]{1,8})-([a-z2-7]{8})$")
_NOT_RECEIVED: Final = (
    MessageStatus.FAILED,
    MessageStatus.CANCELLED,
    MessageStatus.EXPIRED,
    MessageStatus.SUPPRESSED,
    MessageStatus.QUEUED,
)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _signature(message_id: int, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"tb:{message_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode()[:6].lower()


def make_token(message_id: int, secret: str) -> str:
    """The tracking token for a text-back message."""
    if message_id < 0:
        raise ValueError("message ids are not negative")
    return f"{_base36(message_id)}-{_signature(message_id, secret)}"


def parse_token(token: str, secret: str) -> int | None:
    """The message id a token names; None when it is malformed or its signature is wrong."""
    match = _TOKEN.match(token.strip().lower())
    if match is None:
        return None
    message_id = int(match[1], 36)
    if not hmac.compare_digest(match[2], _signature(message_id, secret)):
        return None
    return message_id


def tracking_url(url: str, token: str, tool: str = "generic") -> str:
    """``url`` with the token added as the query parameter ``tool`` passes on to webhooks."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), (TOKEN_PARAMS[tool], token)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[]")))


def _call_signature(pbx: str, linkedid: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"tb:{pbx}:{linkedid}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode()[:8].lower()


def call_token(pbx: str, linkedid: str, ended_at: float, secret: str) -> str:
    """The tracking token of the text about one call (derivable before any row exists)."""
    return f"{_base36(max(0, int(ended_at)))}-{_call_signature(pbx, linkedid, secret)}"


def parse_call_token(token: str) -> tuple[int, str] | None:
    """(call end in unix seconds, signature) of a call token; None when it is not one."""
    match = _CALL_TOKEN.match(token.strip().lower())
    return None if match is None else (int(match[1], 36), match[2])


def link_tool(url: str) -> str:
    """Which booking tool a link points at (``TOKEN_PARAMS`` key), judged by its host."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "cal.com" or host.endswith((".cal.com", "cal.eu")):
        return "calcom"
    if host == "calendly.com" or host.endswith(".calendly.com"):
        return "calendly"
    return "generic"


def tracked_link(url: str, *, pbx: str, linkedid: str, ended_at: float, secret: str) -> str:
    """``url`` carrying the call's token in the parameter its booking tool passes on."""
    token = call_token(pbx, linkedid, ended_at, secret)
    return tracking_url(url, token, link_tool(url))


@dataclass(frozen=True, slots=True)
class NewBooking:
    """A booking as a webhook or the manual action reports it (parsed, not yet stored)."""

    source: str
    booked_at: datetime
    status: BookingStatus = BookingStatus.BOOKED
    external_id: str | None = None
    value_minor: int | None = None
    currency: str | None = None
    starts_at: datetime | None = None
    e164: str | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Attribution:
    """Which call (and text) a booking is credited to, and by which rule."""

    call_id: int
    message_id: int
    by: str


async def attribute(
    session: AsyncSession,
    *,
    at: datetime,
    e164: str | None,
    token: str | None,
    window: timedelta,
    secret: str,
) -> Attribution | None:
    """Apply the attribution rule (token first, then phone within ``window``)."""
    if token is not None:
        found = await _by_token(session, token, secret)
        if found is not None:
            return found
    if e164 is None:
        return None
    received = func.coalesce(Message.delivered_at, Message.sent_at)
    row = (
        await session.execute(
            select(Message.call_id, Message.id)
            .where(
                Message.to_e164 == e164,
                Message.kind == TEXTBACK_KIND,
                Message.call_id.is_not(None),
                Message.sent_at.is_not(None),
                Message.status.not_in(_NOT_RECEIVED),
                received <= at,
                received >= at - window,
            )
            .order_by(received.desc(), Message.id.desc())
            .limit(1)
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return Attribution(int(row[0]), int(row[1]), "phone")


async def _by_call_token(session: AsyncSession, token: str, secret: str) -> Attribution | None:
    parsed = parse_call_token(token)
    if parsed is None:
        return None
    second, signature = parsed
    start = datetime.fromtimestamp(second, tz=UTC)
    # Few calls end in one second: check each one's HMAC rather than store the token.
    rows = await session.execute(
        select(Call.id, Call.pbx, Call.linkedid).where(
            Call.ended_at >= start, Call.ended_at < start + timedelta(seconds=1)
        )
    )
    for call_id, pbx, linkedid in rows:
        if hmac.compare_digest(signature, _call_signature(pbx, linkedid, secret)):
            message_id = await session.scalar(
                select(Message.id)
                .where(Message.call_id == call_id)
                .order_by((Message.kind == TEXTBACK_KIND).desc(), Message.id.desc())
                .limit(1)
            )
            if message_id is not None:
                return Attribution(int(call_id), int(message_id), "token")
    return None


async def _by_token(session: AsyncSession, token: str, secret: str) -> Attribution | None:
    found = await _by_call_token(session, token, secret)
    if found is not None:
        return found
    message_id = parse_token(token, secret)
    if message_id is not None:
        message = await session.get(Message, message_id)
        if message is not None and message.call_id is not None:
            return Attribution(message.call_id, message.id, "token")
    return None


async def _existing(session: AsyncSession, source: str, external_id: str) -> Booking | None:
    return await session.scalar(
        select(Booking).where(Booking.source == source, Booking.external_id == external_id)
    )


def _update(row: Booking, new: NewBooking, now: datetime) -> None:
    row.status = new.status
    row.value_minor = new.value_minor if new.value_minor is not None else row.value_minor
    row.currency = new.currency.upper() if new.currency else row.currency
    row.starts_at = new.starts_at or row.starts_at
    row.e164 = row.e164 or new.e164
    row.token = row.token or new.token
    row.updated_at = now


async def record_booking(
    session: AsyncSession,
    new: NewBooking,
    *,
    now: datetime,
    window: timedelta,
    secret: str,
) -> Booking:
    """Store a booking (or update it: a retry, a reschedule, a cancellation), attributed."""
    if new.external_id is not None:
        row = await _existing(session, new.source, new.external_id)
        if row is not None:
            _update(row, new, now)
            await session.commit()
            return row
    found = await attribute(
        session, at=new.booked_at, e164=new.e164, token=new.token, window=window, secret=secret
    )
    row = Booking(
        source=new.source,
        external_id=new.external_id,
        status=new.status,
        value_minor=new.value_minor,
        currency=new.currency.upper() if new.currency else None,
        booked_at=new.booked_at,
        starts_at=new.starts_at,
        e164=new.e164,
        token=new.token,
        call_id=None if found is None else found.call_id,
        message_id=None if found is None else found.message_id,
        attributed_by=None if found is None else found.by,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:
        # A concurrent retry of the same webhook stored it first: update that row instead.
        await session.rollback()
        existing = (
            None
            if new.external_id is None
            else await _existing(session, new.source, new.external_id)
        )
        if existing is None:
            raise
        _update(existing, new, now)
        await session.commit()
        return existing
    return row


async def mark_booked(
    session: AsyncSession,
    call_id: int,
    *,
    value_minor: int | None,
    currency: str | None,
    now: datetime,
) -> Booking:
    """The dashboard's "mark booked + value" action: one manual booking per call, attributed.

    Marking the same call again updates its value instead of counting a second booking.
    Raises ``LookupError`` for an unknown call.
    """
    call = await session.get(Call, call_id)
    if call is None:
        raise LookupError(f"no call {call_id}")
    text = (
        await session.execute(
            select(Message.id, Message.to_e164)
            .where(Message.call_id == call_id)
            .order_by((Message.kind == TEXTBACK_KIND).desc(), Message.id.desc())
            .limit(1)
        )
    ).first()
    new = NewBooking(
        source="manual",
        external_id=f"call:{call_id}",
        booked_at=now,
        value_minor=value_minor,
        currency=currency,
        e164=call.caller_e164 if text is None else text[1],
    )
    row = await _existing(session, new.source, f"call:{call_id}")
    if row is not None:
        _update(row, new, now)
        row.value_minor = value_minor
        await session.commit()
        return row
    row = Booking(
        source=new.source,
        external_id=new.external_id,
        status=BookingStatus.BOOKED,
        value_minor=value_minor,
        currency=currency.upper() if currency else None,
        booked_at=now,
        starts_at=None,
        e164=new.e164,
        token=None,
        call_id=call_id,
        message_id=None if text is None else int(text[0]),
        attributed_by="manual",
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.commit()
    return row
