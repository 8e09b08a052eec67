"""Recording calls with their decision, and enqueueing their text in the same transaction."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import CallEnded, Outcome
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.decision import Action as DecisionAction
from asterisk_textback.store.calls import CallDecision, get_call, record_call_and_enqueue
from asterisk_textback.store.models import Call, Experiment, Message
from asterisk_textback.store.outbox import NewMessage
from asterisk_textback.store.uow import unit_of_work

SEND = CallDecision(DecisionAction.SEND, template="missed_voicemail", variant="a")


async def _count(session: AsyncSession, model: type[Call] | type[Message]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_call_and_message_are_committed_together(
    session: AsyncSession,
    make_call: Callable[..., CallEnded],
    make_message: Callable[..., NewMessage],
    now: datetime,
) -> None:
    call = make_call()
    recorded = await record_call_and_enqueue(
        session, call, SEND, make_message(), caller_e164="+12125550147", now=now
    )
    assert recorded.created
    assert recorded.message is not None
    assert recorded.message.idempotency_key == "default:1700000000.1:textback"
    assert recorded.message.call_id == recorded.call.id
    assert recorded.message.status is MessageStatus.QUEUED
    assert recorded.message.next_attempt_at == now
    stored = await get_call(session, "default", "1700000000.1")
    assert stored is not None
    assert stored.outcome is Outcome.MISSED_VOICEMAIL
    assert stored.action is DecisionAction.SEND
    assert stored.ended_at.timestamp() == call.ended_at
    assert stored.caller_e164 == "+12125550147"


async def test_recording_a_call_twice_never_makes_a_second_message(
    session: AsyncSession,
    make_call: Callable[..., CallEnded],
    make_message: Callable[..., NewMessage],
    now: datetime,
) -> None:
    first = await record_call_and_enqueue(
        session, make_call(), SEND, make_message(), caller_e164="+12125550147", now=now
    )
    again = await record_call_and_enqueue(
        session, make_call(), SEND, make_message(body="different"), caller_e164=None, now=now
    )
    assert not again.created
    assert again.call.id == first.call.id
    assert again.message is not None
    assert first.message is not None
    assert again.message.id == first.message.id
    assert again.message.body == first.message.body
    assert (await _count(session, Call), await _count(session, Message)) == (1, 1)


async def test_concurrent_recordings_of_one_call_store_one_message(
    session_factory: async_sessionmaker[AsyncSession],
    make_call: Callable[..., CallEnded],
    make_message: Callable[..., NewMessage],
    now: datetime,
) -> None:
    async def record() -> tuple[bool, int | None]:
        async with unit_of_work(session_factory) as session:
            result = await record_call_and_enqueue(
                session, make_call(), SEND, make_message(), caller_e164="+12125550147", now=now
            )
            return result.created, result.message.id if result.message else None

    results = await asyncio.gather(*(record() for _ in range(5)))
    assert sorted(created for created, _ in results) == [False] * 4 + [True]
    assert len({message_id for _, message_id in results}) == 1
    async with session_factory() as session:
        assert (await _count(session, Call), await _count(session, Message)) == (1, 1)


async def test_a_suppressed_call_is_recorded_without_a_message(
    session: AsyncSession, make_call: Callable[..., CallEnded], now: datetime
) -> None:
    decision = CallDecision(DecisionAction.SUPPRESS, suppress_reason="opted_out")
    recorded = await record_call_and_enqueue(
        session, make_call(), decision, None, caller_e164="+12125550147", now=now
    )
    assert recorded.message is None
    assert recorded.call.action is DecisionAction.SUPPRESS
    assert recorded.call.suppress_reason == "opted_out"
    assert await _count(session, Message) == 0


async def test_a_failure_after_the_call_row_rolls_back_the_call_too(
    session_factory: async_sessionmaker[AsyncSession],
    make_call: Callable[..., CallEnded],
    make_message: Callable[..., NewMessage],
    now: datetime,
) -> None:
    bad = make_message(status=MessageStatus.SENT)

    async def record() -> None:
        async with unit_of_work(session_factory) as session:
            await record_call_and_enqueue(
                session, make_call(), SEND, bad, caller_e164=None, now=now
            )

    with pytest.raises(ValueError, match="queued or suppressed"):
        await record()
    async with session_factory() as session:
        assert await _count(session, Call) == 0


async def test_experiment_assignments_are_linked_once_per_text(
    session: AsyncSession,
    make_call: Callable[..., CallEnded],
    make_message: Callable[..., NewMessage],
    now: datetime,
) -> None:
    for n, variant in enumerate(["a", "a", "b"]):
        message = make_message(experiment="greeting", variant=variant)
        await record_call_and_enqueue(
            session, make_call(linkedid=f"1.{n}"), SEND, message, caller_e164=None, now=now
        )
    # A repeat of an already recorded call is not a new assignment.
    repeat = make_message(experiment="greeting", variant="a")
    await record_call_and_enqueue(
        session, make_call(linkedid="1.0"), SEND, repeat, caller_e164=None, now=now
    )
    rows = (await session.scalars(select(Experiment).order_by(Experiment.variant))).all()
    assert [(e.name, e.variant) for e in rows] == [("greeting", "a"), ("greeting", "b")]
    linked = await session.execute(
        select(Message.experiment_id, func.count())
        .group_by(Message.experiment_id)
        .order_by(Message.experiment_id)
    )
    assert list(linked) == [(rows[0].id, 2), (rows[1].id, 1)]


async def test_group_commits_linking_variants_in_opposite_orders_do_not_deadlock(
    session_factory: async_sessionmaker[AsyncSession],
    make_call: Callable[..., CallEnded],
    make_message: Callable[..., NewMessage],
    now: datetime,
) -> None:
    """Two recorder lanes, each committing a group: one texts variant a then b, the other b
    then a. On PostgreSQL both transactions are open at once; neither may wait on the other
    (a per-variant counter row locked until commit deadlocked here, one second each time).
    On SQLite the write lock runs them one after the other."""
    async with unit_of_work(session_factory) as session:
        for n, variant in enumerate("ab"):
            text = make_message(experiment="greeting", variant=variant)
            call = make_call(linkedid=f"0.{n}")
            await record_call_and_enqueue(session, call, SEND, text, caller_e164=None, now=now)
    halfway = {"x": asyncio.Event(), "y": asyncio.Event()}

    async def lane(tag: str, other: str, variants: str) -> None:
        async with unit_of_work(session_factory) as session:
            for n, variant in enumerate(variants):
                text = make_message(experiment="greeting", variant=variant)
                call = make_call(linkedid=f"{tag}.{n}")
                await record_call_and_enqueue(session, call, SEND, text, caller_e164=None, now=now)
                if n == 0:
                    halfway[tag].set()
                    # PostgreSQL: wait for the other lane's first text (SQLite: it cannot
                    # start until this transaction ends, so do not wait long).
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(halfway[other].wait(), 0.3)

    async with asyncio.timeout(5):
        await asyncio.gather(lane("x", "y", "ab"), lane("y", "x", "ba"))
    async with session_factory() as session:
        linked = await session.execute(
            select(Experiment.variant, func.count())
            .join(Message, Message.experiment_id == Experiment.id)
            .group_by(Experiment.variant)
            .order_by(Experiment.variant)
        )
        assert list(linked) == [("a", 3), ("b", 3)]
