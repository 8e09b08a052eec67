"""The outbox: atomic claims, status changes, crash recovery, cancel-if-handled, expiry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import CallEnded
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.decision import Action as DecisionAction
from asterisk_textback.store import outbox, results
from asterisk_textback.store.calls import CallDecision, record_call_and_enqueue
from asterisk_textback.store.contacts import get_contact
from asterisk_textback.store.models import Message
from asterisk_textback.store.outbox import NewMessage
from asterisk_textback.store.uow import unit_of_work

Factory = async_sessionmaker[AsyncSession]
SEND = CallDecision(DecisionAction.SEND)


async def _statuses(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(Message.status, func.count()).group_by(Message.status))
    return {str(status): count for status, count in rows}


async def _queue(
    session: AsyncSession, make_message: Callable[..., NewMessage], now: datetime, **kw: Any
) -> Message:
    key = kw.pop("key", "k")
    message, created = await outbox.enqueue(session, make_message(**kw), key=key, now=now)
    assert created
    return message


async def test_enqueue_is_idempotent_on_the_key(
    session: AsyncSession, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    first = await _queue(session, make_message, now)
    again, created = await outbox.enqueue(session, make_message(body="x"), key="k", now=now)
    assert (created, again.id, again.body) == (False, first.id, first.body)


async def test_four_workers_claim_2000_rows_exactly_once(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    template = make_message()
    rows = [
        {
            "idempotency_key": f"bulk:{n}",
            "kind": "textback",
            "to_e164": f"+1212555{n:04d}",
            "sender": template.sender,
            "body": template.body,
            "segments": 1,
            "encoding": "GSM-7",
            "status": MessageStatus.QUEUED,
            "send_at": now - timedelta(seconds=n % 7),
            "next_attempt_at": now - timedelta(seconds=n % 7),
            "expires_at": template.expires_at,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(2000)
    ]
    async with session_factory() as session:
        await session.execute(insert(Message), rows)
        await session.commit()

    async def worker(name: str) -> list[int]:
        got: list[int] = []
        while batch := await outbox.claim_due(session_factory, name, now, 25):
            assert all(m.status is MessageStatus.SENDING and m.claimed_by == name for m in batch)
            got.extend(m.id for m in batch)
            await asyncio.sleep(0)
        return got

    claimed = await asyncio.gather(*(worker(f"w{n}") for n in range(4)))
    every = [message_id for ids in claimed for message_id in ids]
    assert len(every) == 2000
    assert len(set(every)) == 2000
    assert sum(1 for ids in claimed if ids) >= 2  # the work really was shared
    async with session_factory() as session:
        assert await _statuses(session) == {"sending": 2000}
        by_worker = await session.execute(
            select(Message.claimed_by, func.count()).group_by(Message.claimed_by)
        )
        assert {worker: count for worker, count in by_worker} == {
            f"w{n}": len(ids) for n, ids in enumerate(claimed) if ids
        }
        assert await session.scalar(select(func.max(Message.attempts))) == 1


async def test_claim_takes_due_rows_oldest_first_and_skips_future_and_expired(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    async with unit_of_work(session_factory) as session:
        for key, send_at, expires_at in [
            ("later", now + timedelta(seconds=1), None),
            ("stale", now - timedelta(hours=3), now - timedelta(hours=1)),
            ("b", now - timedelta(seconds=1), None),
            ("a", now - timedelta(seconds=2), None),
            ("c", now, None),
        ]:
            await _queue(
                session, make_message, now, key=key, send_at=send_at, expires_at=expires_at
            )
    first = await outbox.claim_due(session_factory, "w", now, 2)
    assert [m.idempotency_key for m in first] == ["a", "b"]
    rest = await outbox.claim_due(session_factory, "w", now, 10)
    assert [m.idempotency_key for m in rest] == ["c"]
    assert await outbox.claim_due(session_factory, "w", now, 10) == []


async def test_claim_marks_sending_the_texts_that_leave_at_once(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    """``leaves_now`` is asked in claim order; its texts get ``sending_at`` in the claim."""
    async with unit_of_work(session_factory) as session:
        for n in range(3):
            await _queue(session, make_message, now, key=f"k{n}", to_e164=f"+1212555000{n}")
    asked: list[str] = []

    def leaves_now(message: Message) -> bool:
        asked.append(message.idempotency_key)
        return message.idempotency_key != "k1"

    a, b, c = await outbox.claim_due(session_factory, "w", now, 10, leaves_now=leaves_now)
    assert asked == ["k0", "k1", "k2"]
    assert (a.sending_at, b.sending_at, c.sending_at) == (now, None, now)
    async with unit_of_work(session_factory) as session:
        stored = {m.idempotency_key: m.sending_at for m in await session.scalars(select(Message))}
        assert stored == {"k0": now, "k1": None, "k2": now}
        # A crash now: the two that may have left are unknown, the other is queued again.
        assert await outbox.recover_after_crash(session, now) == 2
        assert await _statuses(session) == {"unknown": 2, "queued": 1}


async def test_mark_sent_records_the_provider_and_counts_the_contact(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    async with unit_of_work(session_factory) as session:
        await _queue(session, make_message, now)
    [claimed] = await outbox.claim_due(session_factory, "w", now, 10)
    sent_at = now + timedelta(seconds=1)
    async with unit_of_work(session_factory) as session:
        sent = await results.mark_sent(
            session, claimed.id, now=sent_at, provider="log", provider_message_id="SM1"
        )
        assert (sent.status, sent.sent_at, sent.provider_message_id) == (
            MessageStatus.SENT,
            sent_at,
            "SM1",
        )
        contact = await get_contact(session, "+12125550147")
        assert contact is not None
        assert (contact.last_texted_at, contact.texts_today) == (sent_at, 1)
        with pytest.raises(results.MessageStateError, match=r"is sent; cannot mark it sent"):
            await results.mark_sent(
                session, claimed.id, now=sent_at, provider="log", provider_message_id="SM2"
            )
        with pytest.raises(results.MessageStateError, match="does not exist"):
            await results.mark_unknown(session, 12345, now=now, error="?")


async def test_transient_failures_back_off_then_expire(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    async with unit_of_work(session_factory) as session:
        await _queue(session, make_message, now, expires_at=now + timedelta(minutes=5))
    [claimed] = await outbox.claim_due(session_factory, "w", now, 10)
    async with unit_of_work(session_factory) as session:
        retry = await results.mark_failed_transient(
            session, claimed.id, now=now, error="503", backoff=timedelta(minutes=2)
        )
    assert (retry.status, retry.next_attempt_at, retry.last_error, retry.claimed_by) == (
        MessageStatus.QUEUED,
        now + timedelta(minutes=2),
        "503",
        None,
    )
    assert await outbox.claim_due(session_factory, "w", now + timedelta(minutes=1), 10) == []
    later = now + timedelta(minutes=2)
    [again] = await outbox.claim_due(session_factory, "w", later, 10)
    assert again.attempts == 2
    async with unit_of_work(session_factory) as session:
        gone = await results.mark_failed_transient(
            session, again.id, now=later, error="503", backoff=timedelta(minutes=4)
        )
    assert gone.status is MessageStatus.EXPIRED


async def test_permanent_failure_and_unknown_outcome(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    async with unit_of_work(session_factory) as session:
        await _queue(session, make_message, now, key="a")
        await _queue(session, make_message, now, key="b")
    a, b = await outbox.claim_due(session_factory, "w", now, 10)
    async with unit_of_work(session_factory) as session:
        failed = await results.mark_failed_permanent(session, a.id, now=now, error="landline")
        unknown = await results.mark_unknown(session, b.id, now=now, error="timeout")
        assert (failed.status, failed.last_error) == (MessageStatus.FAILED, "landline")
        assert (unknown.status, unknown.last_error) == (MessageStatus.UNKNOWN, "timeout")
        assert await get_contact(session, "+12125550147") is None


async def test_rows_caught_mid_send_become_unknown_and_are_never_resent(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    async with unit_of_work(session_factory) as session:
        for key in ("old", "recent", "waiting"):
            send_at = now + timedelta(hours=1) if key == "waiting" else now
            await _queue(session, make_message, now, key=key, send_at=send_at)
    [old] = await outbox.claim_due(session_factory, "dead", now, 1)
    [live] = await outbox.claim_due(session_factory, "live", now + timedelta(minutes=9), 1)
    async with unit_of_work(session_factory) as session:
        # Both requests were on their way to the provider when the process died.
        await results.mark_sending(session, old.id, now=now)
        await results.mark_sending(session, live.id, now=now + timedelta(minutes=9))
        cutoff = now + timedelta(minutes=5)
        assert await outbox.recover_after_crash(session, now, claimed_before=cutoff) == 1
        assert await _statuses(session) == {"unknown": 1, "sending": 1, "queued": 1}
        assert await outbox.recover_after_crash(session, now) == 1
        assert await _statuses(session) == {"unknown": 2, "queued": 1}
        row = await session.get(Message, old.id)
        assert row is not None
        assert row.last_error == outbox.CRASH_ERROR
    far = now + timedelta(days=1)
    later = await outbox.claim_due(session_factory, "w", far, 10)
    assert later == []  # the unknown rows stay put; "waiting" is past its expiry by then


async def test_rows_claimed_but_never_handed_to_the_provider_are_queued_again(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    async with unit_of_work(session_factory) as session:
        await _queue(session, make_message, now, key="claimed-only", send_at=now)
    [claimed] = await outbox.claim_due(session_factory, "dead", now, 1)
    async with unit_of_work(session_factory) as session:
        assert await outbox.recover_after_crash(session, now) == 0
        assert await _statuses(session) == {"queued": 1}
    [again] = await outbox.claim_due(session_factory, "next", now, 1)
    assert again.id == claimed.id


async def test_cancel_if_handled_only_cancels_queued_texts_about_earlier_calls(
    session_factory: Factory,
    make_call: Callable[..., CallEnded],
    make_message: Callable[..., NewMessage],
    now: datetime,
) -> None:
    number = "+12125550147"
    delayed = make_message(send_at=now + timedelta(minutes=5))
    async with unit_of_work(session_factory) as session:
        for linkedid, minutes_ago, to in [
            ("in-flight", 11, number),  # already sending: too late to cancel
            ("early", 10, number),  # cancelled
            ("other", 8, "+12125550000"),  # someone else
            ("newer", 1, number),  # a newer missed call: still wanted
        ]:
            call = make_call(linkedid=linkedid, ended=now - timedelta(minutes=minutes_ago))
            message = replace(delayed, to_e164=to)
            await record_call_and_enqueue(session, call, SEND, message, caller_e164=to, now=now)
    [in_flight] = await outbox.claim_due(session_factory, "w", now + timedelta(minutes=5), 1)
    async with unit_of_work(session_factory) as session:
        # Its request is on its way to the provider: too late to cancel.
        await results.mark_sending(session, in_flight.id, now=now)
        in_flight_key = in_flight.idempotency_key
        handled_at = now - timedelta(minutes=5)
        assert await outbox.cancel_if_handled(session, number, handled_at, now=now) == 1
        rows = await session.execute(select(Message.idempotency_key, Message.status))
        statuses = {key: status for key, status in rows}
    assert in_flight_key == "default:in-flight:textback"
    assert statuses == {
        "default:in-flight:textback": MessageStatus.SENDING,
        "default:early:textback": MessageStatus.CANCELLED,
        "default:other:textback": MessageStatus.QUEUED,
        "default:newer:textback": MessageStatus.QUEUED,
    }


async def test_cancel_if_handled_also_cancels_a_claimed_text_not_yet_sent(
    session_factory: Factory,
    make_call: Callable[..., CallEnded],
    make_message: Callable[..., NewMessage],
    now: datetime,
) -> None:
    """A worker waiting for its sender's rate slot must find the text cancelled."""
    number = "+12125550147"
    async with unit_of_work(session_factory) as session:
        call = make_call(linkedid="waiting", ended=now - timedelta(minutes=10))
        message = replace(make_message(send_at=now), to_e164=number)
        await record_call_and_enqueue(session, call, SEND, message, caller_e164=number, now=now)
    [claimed] = await outbox.claim_due(session_factory, "w", now, 1)
    async with unit_of_work(session_factory) as session:
        assert await outbox.cancel_if_handled(session, number, now, now=now) == 1
        with pytest.raises(results.MessageStateError):
            await results.mark_sending(session, claimed.id, now=now)


async def test_expire_due_expires_only_queued_rows_past_their_age(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    async with unit_of_work(session_factory) as session:
        await _queue(session, make_message, now, key="stale", expires_at=now)
        await _queue(session, make_message, now, key="fresh", expires_at=now + timedelta(hours=1))
        await _queue(session, make_message, now, key="forever", expires_at=None)
        assert await outbox.expire_due(session, now) == 1
        assert await outbox.expire_due(session, now) == 0
        assert await _statuses(session) == {"expired": 1, "queued": 2}


async def test_mark_sent_many_records_every_sending_row_and_reports_the_rest(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    async with unit_of_work(session_factory) as session:
        for n in range(4):
            to = "+12125550147" if n < 3 else "+12125550000"
            await _queue(session, make_message, now, key=f"k{n}", to_e164=to)
    a, b, c, d = await outbox.claim_due(session_factory, "w", now, 10)
    async with unit_of_work(session_factory) as session:
        await results.mark_unknown(session, c.id, now=now, error="timeout")
        receipts = [results.SentReceipt(m.id, "log", f"SM{m.id}") for m in (a, b, c, d)]
        assert await results.mark_sent_many(session, receipts, now=now) == [c.id]
        assert await results.mark_sent_many(session, [], now=now) == []
        assert await _statuses(session) == {"sent": 3, "unknown": 1}
        row = await session.get(Message, b.id)
        assert row is not None
        assert (row.provider, row.provider_message_id, row.sent_at) == ("log", f"SM{b.id}", now)
        contact = await get_contact(session, "+12125550147")
        assert contact is not None
        assert contact.texts_today == 2


async def test_recovery_by_instance_leaves_other_instances_alone(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    async with unit_of_work(session_factory) as session:
        for key in ("mine", "theirs", "tricky"):
            await _queue(session, make_message, now, key=key, send_at=now)
    [mine] = await outbox.claim_due(session_factory, "pbx_1-0", now, 1)
    [theirs] = await outbox.claim_due(session_factory, "pbx-1-0", now, 1)
    [tricky] = await outbox.claim_due(session_factory, "pbxa1-0", now, 1)
    async with unit_of_work(session_factory) as session:
        for message in (mine, theirs, tricky):
            await results.mark_sending(session, message.id, now=now)
        # "_" is a LIKE wildcard: it must match only itself.
        assert await outbox.recover_after_crash(session, now, claimed_by_prefix="pbx_1") == 1
        assert await _statuses(session) == {"unknown": 1, "sending": 2}
