"""Builders for stored calls, texts, replies and bookings used by the KPI tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.bookings.status import BookingStatus
from asterisk_textback.calls.model import Direction, Outcome, Reason
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.decision import Action as DecisionAction
from asterisk_textback.store.models import (
    Booking,
    Call,
    Contact,
    Experiment,
    InboundMessage,
    Message,
)

T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
DID = "5550100"
_ids = itertools.count(1)


def add_call(
    session: AsyncSession,
    *,
    caller: str | None = "+12125550147",
    ended_at: datetime = T0,
    outcome: Outcome = Outcome.MISSED_NO_VOICEMAIL,
    direction: Direction = Direction.INBOUND,
    did: str = DID,
    suppress_reason: str | None = None,
) -> Call:
    """A call (not yet flushed)."""
    n = next(_ids)
    call = Call(
        pbx="default",
        linkedid=f"1700000000.{n}",
        direction=direction,
        outcome=outcome,
        reason=Reason.ANSWERED if outcome is Outcome.ANSWERED else Reason.NO_ANSWER,
        caller_number=caller or "anonymous",
        caller_e164=caller,
        caller_name="Caller",
        did=did,
        queue=None,
        mailbox=None,
        answered_by=None,
        started_at=ended_at - timedelta(seconds=20),
        ended_at=ended_at,
        ring_seconds=20.0,
        action=DecisionAction.SUPPRESS if suppress_reason else DecisionAction.SEND,
        suppress_reason=suppress_reason,
        created_at=ended_at,
    )
    session.add(call)
    return call


async def add_text(
    session: AsyncSession,
    call: Call,
    *,
    delay: float | None = 1.0,
    delivered: bool = True,
    segments: int = 1,
    kind: str = "textback",
    status: MessageStatus | None = None,
    experiment: Experiment | None = None,
) -> Message:
    """A text for ``call`` sent ``delay`` seconds after it ended (None: never sent)."""
    await session.flush()
    sent_at = None if delay is None else call.ended_at + timedelta(seconds=delay)
    if status is None:
        status = MessageStatus.DELIVERED if delivered else MessageStatus.SENT
        status = status if sent_at is not None else MessageStatus.QUEUED
    message = Message(
        idempotency_key=f"{call.linkedid}:{kind}:{next(_ids)}",
        call_id=call.id,
        experiment_id=None if experiment is None else experiment.id,
        kind=kind,
        to_e164=call.caller_e164 or "",
        sender="+15550100000",
        body="Sorry we missed your call",
        segments=segments,
        encoding="gsm7",
        template="missed",
        variant=None if experiment is None else experiment.variant,
        status=status,
        send_at=call.ended_at,
        next_attempt_at=call.ended_at,
        attempts=1,
        created_at=call.ended_at,
        updated_at=call.ended_at,
        sent_at=sent_at,
        delivered_at=sent_at + timedelta(seconds=2) if delivered and sent_at else None,
    )
    session.add(message)
    await session.flush()
    return message


def add_inbound(
    session: AsyncSession, call: Call, body: str, kind: InboundKind = InboundKind.REPLY
) -> InboundMessage:
    """An inbound text answering ``call``."""
    n = next(_ids)
    at = call.ended_at + timedelta(minutes=5)
    inbound = InboundMessage(
        provider="fake",
        provider_message_id=f"in-{n}",
        from_e164=call.caller_e164 or "",
        to_e164="+15550100000",
        body=body,
        received_at=at,
        kind=kind,
        call_id=call.id,
        created_at=at,
    )
    session.add(inbound)
    return inbound


def add_booking(
    session: AsyncSession,
    call: Call | None,
    value_minor: int | None,
    *,
    status: BookingStatus = BookingStatus.BOOKED,
    currency: str | None = "USD",
    booked_at: datetime | None = None,
) -> Booking:
    """A booking attributed to ``call``."""
    at = booked_at or T0 + timedelta(hours=1)
    booking = Booking(
        source="manual",
        external_id=None,
        status=status,
        value_minor=value_minor,
        currency=currency,
        booked_at=at,
        starts_at=None,
        e164=None if call is None else call.caller_e164,
        token=None,
        call_id=None if call is None else call.id,
        message_id=None,
        attributed_by="manual",
        created_at=at,
        updated_at=at,
    )
    session.add(booking)
    return booking


def add_contact(session: AsyncSession, e164: str, *, sms_capable: bool | None) -> Contact:
    """A contact with a known (or unknown) ability to receive texts."""
    contact = Contact(
        e164=e164,
        opted_out=False,
        sms_capable=sms_capable,
        texts_today=0,
        created_at=T0,
        updated_at=T0,
    )
    session.add(contact)
    return contact


async def add_experiment(session: AsyncSession, name: str, variant: str) -> Experiment:
    """An experiment arm."""
    row = Experiment(name=name, variant=variant, created_at=T0)
    session.add(row)
    await session.flush()
    return row
