"""Staff replies and conversation state, on SQLite and PostgreSQL.

A reply is queued from the business number last used with the caller, records its author,
is refused for an unknown or opted-out number, and is never left deliverable after a STOP
that raced it. The Conversations list puts what needs an answer first and leaves staff
phones out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import CallEnded
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.decision import Action as DecisionAction
from asterisk_textback.store.calls import CallDecision, record_call_and_enqueue
from asterisk_textback.store.conversations import list_conversations, thread
from asterisk_textback.store.inbound import NewInbound, record_inbound
from asterisk_textback.store.models import Message
from asterisk_textback.store.outbox import NewMessage, enqueue
from asterisk_textback.store.replies import (
    STAFF_REPLY,
    ReplyRefused,
    StaffReply,
    mark_handled,
    mark_seen,
    queue_staff_reply,
)
from asterisk_textback.store.uow import reading, unit_of_work

Factory = async_sessionmaker[AsyncSession]
CALLER = "+12125550147"
LINE_A, LINE_B = "+15550100001", "+15550100002"
_ids = iter(range(1, 10_000))


def _reply(to: str = CALLER, body: str = "On our way at 3", key: str = "k1") -> StaffReply:
    return StaffReply(to, body, 1, "GSM-7", "alice", f"staff:{to}:{key}")


async def _inbound(
    factory: Factory,
    at: datetime,
    *,
    frm: str = CALLER,
    to: str = LINE_A,
    kind: InboundKind = InboundKind.REPLY,
) -> None:
    new = NewInbound("fake", f"in-{next(_ids)}", frm, to, kind.value, at, kind)
    async with unit_of_work(factory) as db:
        await record_inbound(db, new, now=at)


async def _text(
    factory: Factory, make_message: Callable[..., NewMessage], at: datetime, **kw: object
) -> Message:
    kw.setdefault("send_at", at)
    async with unit_of_work(factory) as db:
        message, _ = await enqueue(db, make_message(**kw), key=f"t{next(_ids)}", now=at)
    return message


async def _queue(factory: Factory, reply: StaffReply, now: datetime, **kw: object) -> Message:
    async with unit_of_work(factory) as db:
        message, created = await queue_staff_reply(db, reply, now=now, **kw)  # type: ignore[arg-type]
    assert created
    return message


async def test_a_reply_goes_from_the_number_they_texted_and_names_its_author(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    await _text(session_factory, make_message, now - timedelta(hours=2), sender=LINE_A)
    await _inbound(session_factory, now - timedelta(hours=1), to=LINE_B)
    message = await _queue(session_factory, _reply(), now)
    assert (message.sender, message.kind, message.sent_by) == (LINE_B, STAFF_REPLY, "alice")
    assert (message.status, message.send_at) == (MessageStatus.QUEUED, now)
    # Later we texted them from LINE_A: the next reply follows the latest.
    await _text(session_factory, make_message, now + timedelta(minutes=1), sender=LINE_A)
    later = await _queue(session_factory, _reply(key="k2"), now + timedelta(minutes=2))
    assert later.sender == LINE_A
    async with reading(session_factory) as db:
        items = (await thread(db, CALLER)).items
    staff = [i for i in items if i.kind == STAFF_REPLY]
    assert [(i.sent_by, i.message_id) for i in staff] == [
        ("alice", message.id),
        ("alice", later.id),
    ]


async def test_the_same_key_queues_once(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    await _inbound(session_factory, now - timedelta(hours=1))
    first = await _queue(session_factory, _reply(), now)
    async with unit_of_work(session_factory) as db:
        again, created = await queue_staff_reply(db, _reply(), now=now)
    assert (again.id, created) == (first.id, False)


async def test_a_caller_who_only_called_is_answered_from_the_did_s_number(
    session_factory: Factory, make_call: Callable[..., CallEnded], now: datetime
) -> None:
    async with unit_of_work(session_factory) as db:
        await record_call_and_enqueue(
            db,
            make_call(did="5550199"),
            CallDecision(DecisionAction.SUPPRESS, "cooldown"),
            caller_e164=CALLER,
            now=now,
        )
    with pytest.raises(ReplyRefused) as refused:
        await _queue(session_factory, _reply(), now)
    assert refused.value.code == "no_sender"
    senders = {"5550199": LINE_B}
    message = await _queue(session_factory, _reply(key="k2"), now, sender_for=senders.__getitem__)
    assert message.sender == LINE_B


async def test_unknown_and_opted_out_numbers_are_refused(
    session_factory: Factory, now: datetime
) -> None:
    with pytest.raises(ReplyRefused) as unknown:
        await _queue(session_factory, _reply(), now)
    assert unknown.value.code == "unknown"
    stop_at = now - timedelta(minutes=5)
    await _inbound(session_factory, stop_at, kind=InboundKind.STOP)
    with pytest.raises(ReplyRefused) as opted:
        await _queue(session_factory, _reply(), now)
    assert (opted.value.code, opted.value.opted_out_at) == ("opted_out", stop_at)
    assert opted.value.source == "sms:stop"
    async with reading(session_factory) as db:
        kinds = await db.scalars(select(Message.kind).where(Message.to_e164 == CALLER))
        assert STAFF_REPLY not in set(kinds)


async def _stop(factory: Factory, at: datetime, number: str) -> None:
    await _inbound(factory, at, frm=number, kind=InboundKind.STOP)


async def _staff_rows(factory: Factory, number: str) -> list[MessageStatus]:
    async with reading(factory) as db:
        rows = await db.scalars(
            select(Message.status).where(Message.to_e164 == number, Message.kind == STAFF_REPLY)
        )
        return list(rows)


@pytest.mark.parametrize("first", ["reply", "stop"])
async def test_a_stop_and_a_reply_in_the_same_moment_never_leave_a_reply_to_send(
    session_factory: Factory, now: datetime, first: str
) -> None:
    """One holds its transaction open while the other starts: the second waits for it."""
    await _inbound(session_factory, now - timedelta(hours=1))
    holding = asyncio.Event()
    release = asyncio.Event()
    outcome: list[str] = []

    async def reply() -> None:
        try:
            async with unit_of_work(session_factory) as db:
                await queue_staff_reply(db, _reply(), now=now)
                if first == "reply":
                    holding.set()
                    await release.wait()
            outcome.append("queued")
        except ReplyRefused as exc:
            outcome.append(exc.code)

    async def stop() -> None:
        new = NewInbound("fake", "stop-1", CALLER, LINE_A, "STOP", now, InboundKind.STOP, "STOP")
        async with unit_of_work(session_factory) as db:
            await record_inbound(db, new, now=now)
            if first == "stop":
                holding.set()
                await release.wait()

    one, two = (reply, stop) if first == "reply" else (stop, reply)
    held = asyncio.create_task(one())
    await holding.wait()
    waiting = asyncio.create_task(two())
    await asyncio.sleep(0.3)
    assert not waiting.done(), "the second transaction did not wait for the first"
    release.set()
    await asyncio.gather(held, waiting)
    rows = await _staff_rows(session_factory, CALLER)
    if first == "reply":
        # Queued first, then cancelled by the STOP before it could leave.
        assert (outcome, rows) == (["queued"], [MessageStatus.CANCELLED])
    else:
        assert (outcome, rows) == (["opted_out"], [])


async def test_racing_stops_and_replies_never_leave_a_reply_to_an_opted_out_number(
    session_factory: Factory, now: datetime
) -> None:
    numbers = [f"+1212555{n:04d}" for n in range(24)]
    for number in numbers:
        await _inbound(session_factory, now - timedelta(hours=1), frm=number)
    refused: list[str] = []

    async def reply(number: str) -> None:
        try:
            async with unit_of_work(session_factory) as db:
                await queue_staff_reply(db, _reply(number), now=now)
        except ReplyRefused as exc:
            refused.append(exc.code)

    await asyncio.gather(
        *(job for n in numbers for job in (reply(n), _stop(session_factory, now, n)))
    )
    assert set(refused) <= {"opted_out"}
    for number in numbers:
        rows = await _staff_rows(session_factory, number)
        assert MessageStatus.QUEUED not in rows, number
    total = sum([len(await _staff_rows(session_factory, n)) for n in numbers])
    assert total + len(refused) == len(numbers)


async def test_the_list_puts_what_needs_an_answer_first_and_leaves_staff_out(
    session_factory: Factory, make_message: Callable[..., NewMessage], now: datetime
) -> None:
    a, b, c, d, e = (f"+1212555010{n}" for n in range(5))
    staff, owner = "+15557770001", "+15557770002"
    t = [now - timedelta(hours=10 - n) for n in range(10)]
    for number in (a, b, c, d, e):
        await _text(session_factory, make_message, t[0], to_e164=number)
    await _inbound(session_factory, t[1], frm=c)  # replied, then handled
    await _inbound(session_factory, t[2], frm=b)  # replied, read, not handled
    await _inbound(session_factory, t[3], frm=e)  # replied, handled, replied again
    await _inbound(session_factory, t[4], frm=a)  # replied, never opened
    await _text(session_factory, make_message, t[5], to_e164=d)  # newest, no reply
    await _text(session_factory, make_message, t[6], to_e164=staff, kind="forward")
    await _inbound(session_factory, t[6], frm=owner)  # the owner's own phone
    await _inbound(session_factory, t[6], frm=staff)
    async with unit_of_work(session_factory) as db:
        await mark_handled(db, c, now=t[2])
        await mark_seen(db, b, now=t[3])
        await mark_handled(db, e, now=t[4])
    await _inbound(session_factory, t[7], frm=e)
    async with reading(session_factory) as db:
        page = await list_conversations(db, 10, exclude=[owner])
        order = [(r.e164, r.unread, r.handled, r.needs_answer) for r in page.items]
        assert order == [
            (e, True, False, True),
            (a, True, False, True),
            (b, False, False, True),
            (d, False, False, False),
            (c, False, True, False),
        ]
        seen: list[str] = []
        cursor = None
        while True:
            part = await list_conversations(db, 2, cursor, exclude=[owner])
            seen += [r.e164 for r in part.items]
            cursor = part.next_cursor
            if cursor is None:
                break
        assert seen == [row[0] for row in order]
    # Opening e (the page does) makes it read; it still needs an answer.
    async with unit_of_work(session_factory) as db:
        await mark_seen(db, e, now=t[8])
    async with reading(session_factory) as db:
        first = (await list_conversations(db, 10, exclude=[owner])).items[:2]
    assert [(r.e164, r.unread, r.needs_answer) for r in first] == [
        (a, True, True),
        (e, False, True),
    ]
    # Answering from the dashboard handles the thread; their next reply reopens it.
    await _queue(session_factory, _reply(e, key="answer-e"), t[9])
    async with reading(session_factory) as db:
        rows = {r.e164: r for r in (await list_conversations(db, 10, exclude=[owner])).items}
    assert (rows[e].unread, rows[e].handled, rows[e].needs_answer) == (False, True, False)
    await _inbound(session_factory, t[9] + timedelta(minutes=1), frm=e)
    async with reading(session_factory) as db:
        rows = {r.e164: r for r in (await list_conversations(db, 10, exclude=[owner])).items}
    assert (rows[e].unread, rows[e].needs_answer) == (True, True)
