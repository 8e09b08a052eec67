"""Receipts are written off the send path: in batches, retried on failure, flushed on close."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.outbox.receipts import ReceiptWriter
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store import outbox
from asterisk_textback.store.models import Message
from asterisk_textback.store.results import SentReceipt
from tests.app.queued import queue_texts

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


async def _claimed(sessions: Sessions, n: int) -> list[int]:
    """``n`` texts claimed with ``sending_at`` set, as a worker holds them mid-send."""
    await queue_texts(sessions, n, now=NOW)
    claimed = await outbox.claim_due(sessions, "w-0", NOW, n, leaves_now=lambda _m: True)
    return [m.id for m in claimed]


async def _statuses(sessions: Sessions) -> list[MessageStatus]:
    async with sessions() as session:
        return list((await session.scalars(select(Message.status).order_by(Message.id))).all())


class _Flaky:
    """A session factory whose first ``failures`` sessions cannot be opened."""

    def __init__(self, real: Sessions, failures: int) -> None:
        self.real = real
        self.failures = failures

    def __call__(self) -> Any:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database is gone for a moment")
        return self.real()


async def test_receipts_are_written_together_and_reported(session_factory: Sessions) -> None:
    ids = await _claimed(session_factory, 3)
    reported: list[list[int]] = []

    async def on_sent(message_ids: list[int]) -> None:
        reported.append(message_ids)

    writer = ReceiptWriter(session_factory, clock=NOW.timestamp, on_sent=on_sent)
    writer.add(SentReceipt(i, "webhook", f"gw-{i}") for i in ids)
    assert writer.backlog == 3
    task = asyncio.create_task(writer.run())
    writer.close()
    await asyncio.wait_for(task, 5)
    assert await _statuses(session_factory) == [MessageStatus.SENT] * 3
    assert reported == [ids]  # one transaction, one report
    assert (writer.written, writer.backlog, writer.errors) == (3, 0, 0)


async def test_a_failed_write_is_retried_without_losing_a_receipt(
    session_factory: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await _claimed(session_factory, 2)
    flaky = _Flaky(session_factory, failures=2)
    writer = ReceiptWriter(cast(Sessions, flaky), clock=NOW.timestamp, retry_seconds=0.01)
    task = asyncio.create_task(writer.run())
    writer.add([SentReceipt(ids[0], "webhook", "a")])
    await asyncio.sleep(0.005)
    writer.add([SentReceipt(ids[1], "webhook", "b")])
    writer.close()
    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(task, 5)
    assert await _statuses(session_factory) == [MessageStatus.SENT] * 2
    assert (writer.written, writer.errors) == (2, 2)
    assert "recording 1 sent text(s) failed; retrying" in caplog.text


async def test_a_failing_hook_does_not_undo_the_write(session_factory: Sessions) -> None:
    ids = await _claimed(session_factory, 1)

    async def on_sent(_ids: list[int]) -> None:
        raise RuntimeError("CRM hook bug")

    writer = ReceiptWriter(session_factory, clock=NOW.timestamp, on_sent=on_sent)
    task = asyncio.create_task(writer.run())
    writer.add([SentReceipt(ids[0], "webhook", "a")])
    writer.close()
    await asyncio.wait_for(task, 5)
    assert await _statuses(session_factory) == [MessageStatus.SENT]


async def test_close_gives_up_on_a_dead_database_and_leaves_the_texts_sending(
    session_factory: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopping must not hang; the texts stay ``sending`` (unknown at the next start)."""
    ids = await _claimed(session_factory, 1)
    writer = ReceiptWriter(
        cast(Sessions, _Flaky(session_factory, failures=100)),
        clock=NOW.timestamp,
        retry_seconds=0.01,
    )
    task = asyncio.create_task(writer.run())
    writer.add([SentReceipt(ids[0], "webhook", "a")])
    writer.close()
    await asyncio.wait_for(task, 5)
    assert await _statuses(session_factory) == [MessageStatus.SENDING]
    assert writer.backlog == 1
    assert "could not be recorded as sent" in caplog.text
