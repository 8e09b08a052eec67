"""Bookings in the database: storing one once (retries, reschedules) and attributing it.

The attribution rule and the tracking tokens are explained in ``kpi.conversions``; this
module runs the rule's queries: by token first (it names the exact text, so no window
applies), else the latest text-back to the booking's number received within ``window``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.bookings.status import BookingStatus
from asterisk_textback.calls.utc import utc
from asterisk_textback.kpi.conversions import (
    Attribution,
    NewBooking,
    call_signature_matches,
    parse_call_token,
    parse_token,
)
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.kpi_queries import TEXTBACK_KIND
from asterisk_textback.store.models import Booking, Call, Message

__all__ = ["attribute", "mark_booked", "record_booking"]

_NOT_RECEIVED: Final = (
    MessageStatus.FAILED,
    MessageStatus.CANCELLED,
    MessageStatus.EXPIRED,
    MessageStatus.SUPPRESSED,
    MessageStatus.QUEUED,
)


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
    start = utc(second)
    # Few calls end in one second: check each one's HMAC rather than store the token.
    rows = await session.execute(
        select(Call.id, Call.pbx, Call.linkedid).where(
            Call.ended_at >= start, Call.ended_at < start + timedelta(seconds=1)
        )
    )
    for call_id, pbx, linkedid in rows:
        if call_signature_matches(signature, pbx, linkedid, secret):
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
    """Store a booking (or update it: a retry, a reschedule, a cancellation), attributed.

    Runs in the caller's unit of work (it does not commit).
    """
    if new.external_id is not None:
        row = await _existing(session, new.source, new.external_id)
        if row is not None:
            _update(row, new, now)
            await session.flush()
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
    try:
        # A savepoint, so that losing the race below leaves the caller's unit of work usable.
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # A concurrent retry of the same webhook stored it first: update that row instead.
        existing = (
            None
            if new.external_id is None
            else await _existing(session, new.source, new.external_id)
        )
        if existing is None:
            raise
        _update(existing, new, now)
        await session.flush()
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
        await session.flush()
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
    await session.flush()
    return row
