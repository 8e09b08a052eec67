"""Delivery reports: status by provider id, contact effects once, early reports parked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.sms.base import DeliveryReport, DeliveryState, FailureKind
from asterisk_textback.store import contacts, delivery, results
from asterisk_textback.store.delivery import DeliveryOutcome
from asterisk_textback.store.models import Message, PendingDeliveryReport
from asterisk_textback.store.uow import unit_of_work
from tests.inbound.helpers import CALLER, T0, add_call

Sessions = async_sessionmaker[AsyncSession]


async def _sent(sessions: Sessions, status: MessageStatus = MessageStatus.SENT) -> int:
    call = await add_call(sessions, texted=status)
    async with sessions() as session:
        message = await session.scalar(select(Message).where(Message.call_id == call.id))
        assert message is not None
        if status is MessageStatus.SENT:
            message.provider, message.provider_message_id = "fake", "SM1"
        await session.commit()
        return message.id


async def _message(sessions: Sessions, message_id: int) -> Message:
    async with sessions() as session:
        message = await session.get(Message, message_id)
        assert message is not None
        return message


def _report(state: DeliveryState, failure: FailureKind | None = None) -> DeliveryReport:
    return DeliveryReport(
        "fake", "SM1", state, error_code="30006", failure=failure, at=T0.timestamp()
    )


async def test_delivered_then_duplicate(session_factory: Sessions) -> None:
    message_id = await _sent(session_factory)
    async with unit_of_work(session_factory) as session:
        first = await delivery.apply_report(session, _report(DeliveryState.DELIVERED), now=T0)
        again = await delivery.apply_report(session, _report(DeliveryState.DELIVERED), now=T0)
    message = await _message(session_factory, message_id)
    assert (first, again) == (DeliveryOutcome.APPLIED, DeliveryOutcome.DUPLICATE)
    assert message.status is MessageStatus.DELIVERED
    assert message.delivered_at == T0


async def test_intermediate_states_ignored(session_factory: Sessions) -> None:
    message_id = await _sent(session_factory)
    async with unit_of_work(session_factory) as session:
        outcome = await delivery.apply_report(session, _report(DeliveryState.SENT), now=T0)
    assert outcome is DeliveryOutcome.IGNORED
    assert (await _message(session_factory, message_id)).status is MessageStatus.SENT


@pytest.mark.parametrize("state", [DeliveryState.FAILED, DeliveryState.UNDELIVERED])
async def test_failure_number_marks_contact_no_sms(
    session_factory: Sessions, state: DeliveryState
) -> None:
    message_id = await _sent(session_factory)
    async with unit_of_work(session_factory) as session:
        outcome = await delivery.apply_report(session, _report(state, FailureKind.NUMBER), now=T0)
        contact = await contacts.get_contact(session, CALLER)
    message = await _message(session_factory, message_id)
    assert outcome is DeliveryOutcome.APPLIED
    assert message.status is MessageStatus.FAILED
    assert message.last_error == f"{state.value} 30006"
    assert contact is not None
    assert contact.sms_capable is False


async def test_opted_out_failure_applied_once(session_factory: Sessions) -> None:
    await _sent(session_factory)
    report = _report(DeliveryState.UNDELIVERED, FailureKind.OPTED_OUT)
    async with unit_of_work(session_factory) as session:
        await delivery.apply_report(session, report, now=T0)
        contact = await contacts.get_contact(session, CALLER)
        assert contact is not None
        assert contact.opted_out
        assert contact.opt_out_source == "provider:fake"
        # The caller opts back in; a retried copy of the old report must not undo that.
        await contacts.opt_in(session, CALLER, now=T0, source="sms:START")
        again = await delivery.apply_report(session, report, now=T0 + timedelta(minutes=1))
        await session.refresh(contact)
    assert again is DeliveryOutcome.DUPLICATE
    assert not contact.opted_out


async def test_failed_after_delivered_is_ignored(session_factory: Sessions) -> None:
    message_id = await _sent(session_factory)
    async with unit_of_work(session_factory) as session:
        await delivery.apply_report(session, _report(DeliveryState.DELIVERED), now=T0)
        late = await delivery.apply_report(session, _report(DeliveryState.FAILED), now=T0)
    assert late is DeliveryOutcome.DUPLICATE
    assert (await _message(session_factory, message_id)).status is MessageStatus.DELIVERED


async def test_report_before_mark_sent_is_parked_then_applied(session_factory: Sessions) -> None:
    message_id = await _sent(session_factory, MessageStatus.SENDING)
    async with unit_of_work(session_factory) as session:
        early = await delivery.apply_report(session, _report(DeliveryState.DELIVERED), now=T0)
        dup = await delivery.apply_report(session, _report(DeliveryState.DELIVERED), now=T0)
        assert await delivery.apply_pending(session, now=T0) == (0, 0)
        await results.mark_sent(
            session, message_id, now=T0, provider="fake", provider_message_id="SM1"
        )
        assert await delivery.apply_pending(session, now=T0) == (1, 0)
        left = await session.scalar(select(func.count()).select_from(PendingDeliveryReport))
    assert (early, dup) == (DeliveryOutcome.PENDING, DeliveryOutcome.PENDING)
    assert left == 0
    message = await _message(session_factory, message_id)
    assert message.status is MessageStatus.DELIVERED


async def test_stale_parked_reports_dropped(session_factory: Sessions) -> None:
    async with unit_of_work(session_factory) as session:
        await delivery.apply_report(session, _report(DeliveryState.DELIVERED), now=T0)
        later = T0 + delivery.DEFAULT_PENDING_MAX_AGE + timedelta(seconds=1)
        assert await delivery.apply_pending(session, now=later) == (0, 1)
