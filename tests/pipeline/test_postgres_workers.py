"""Four dispatchers, each with its own engine (as four processes would), drain one PostgreSQL
outbox of 10,000 texts: every text is sent exactly once and every row ends ``sent``."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.sms.base import OutboundSms, SendResult
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.store.engine import create_engine
from asterisk_textback.store.models import Message
from asterisk_textback.store.schema import upgrade
from tests.dbfixtures import PgServer, pg_server  # noqa: F401 - fixture found by name

MESSAGES = 10_000
DISPATCHERS = 4


class CountingProvider:
    """An in-process provider that counts every idempotency key it is handed."""

    name = "counting"

    def __init__(self, keys: Counter[str], *, gate: asyncio.Event | None = None) -> None:
        self.keys = keys
        self.sent = 0
        self.entered = asyncio.Event()
        self._gate = gate

    async def send(self, sms: OutboundSms) -> SendResult:
        """Count the key (on arrival), yield to the other dispatchers, accept."""
        self.keys[sms.idempotency_key] += 1
        self.sent += 1
        self.entered.set()
        if self._gate is not None:
            await self._gate.wait()
        await asyncio.sleep(0)
        return SendResult(self.name, f"id-{sms.message_id}")

    async def close(self) -> None:
        """Nothing to release."""


class Sessions(async_sessionmaker[AsyncSession]):
    """The production session factory, telling when its dispatcher is past crash recovery."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self.opened = 0
        #: Set when the second session opens: Dispatcher.run() recovers in the first one
        #: and only then starts its workers.
        self.past_recovery = asyncio.Event()

    def __call__(self, **local_kw: Any) -> AsyncSession:
        """A new session (counted)."""
        self.opened += 1
        if self.opened >= 2:
            self.past_recovery.set()
        return super().__call__(**local_kw)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:  # noqa: F811 - the imported fixture
    """A fresh PostgreSQL database migrated to head, dropped afterwards."""
    name = pg_server.create()
    try:
        asyncio.run(upgrade(pg_server.url(name)))
        yield pg_server.url(name)
    finally:
        pg_server.drop(name)


@contextlib.asynccontextmanager
async def engines(url: str, count: int) -> AsyncIterator[list[AsyncEngine]]:
    """``count`` engines (separate pools, as separate processes would have), disposed after."""
    made = [create_engine(url) for _ in range(count)]
    try:
        yield made
    finally:
        for engine in made:
            await engine.dispose()


def _rows(count: int, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "idempotency_key": f"pbx-test:{1_800_000_000 + i}.{i}:textback",
            "kind": "textback",
            "to_e164": f"+1212555{i % 10_000:04d}",
            # Many senders: the per-sender rate limit is not what this test measures.
            "sender": f"+1555555{i % 1000:04d}",
            "body": f"Sorry we missed your call ({i})",
            "segments": 1,
            "encoding": "GSM-7",
            "status": MessageStatus.QUEUED,
            "send_at": now,
            "expires_at": now + timedelta(hours=1),
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]


async def _insert(sessions: async_sessionmaker[AsyncSession], count: int) -> None:
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        await session.execute(insert(Message), _rows(count, now))


def _dispatcher(
    sessions: async_sessionmaker[AsyncSession], provider: CountingProvider, name: str
) -> Dispatcher:
    return Dispatcher(
        sessions,
        provider,
        DispatchSettings(workers=1, batch_size=20, poll_seconds=0.05),
        ProviderSettings(rate_per_second=100_000),
        worker_prefix=name,
    )


async def test_four_dispatchers_send_10000_texts_exactly_once(pg_url: str) -> None:
    """Every key reaches the provider once, every row is ``sent``, all four took a share."""
    keys: Counter[str] = Counter()
    async with engines(pg_url, DISPATCHERS) as made:
        factories = [Sessions(engine) for engine in made]
        providers = [CountingProvider(keys) for _ in made]
        dispatchers = [
            _dispatcher(s, p, f"d{i}")
            for i, (s, p) in enumerate(zip(factories, providers, strict=True))
        ]
        runs = [asyncio.create_task(d.run()) for d in dispatchers]
        try:
            # The texts go in once all four dispatchers are past their start-up recovery.
            async with asyncio.timeout(30):
                for factory in factories:
                    await factory.past_recovery.wait()
            await _insert(factories[0], MESSAGES)
            for dispatcher in dispatchers:
                dispatcher.wake()
            async with asyncio.timeout(180):
                while sum(p.sent for p in providers) < MESSAGES:
                    if any(r.done() for r in runs):
                        break  # a dispatcher died: its exception is raised below
                    await asyncio.sleep(0.05)
        finally:
            for dispatcher in dispatchers:
                dispatcher.stop()
            await asyncio.gather(*runs)
        async with factories[0]() as session:
            statuses = dict(
                (
                    await session.execute(
                        select(Message.status, func.count()).group_by(Message.status)
                    )
                ).all()
            )
    assert len(keys) == MESSAGES
    assert [k for k, n in keys.items() if n != 1] == []
    assert statuses == {MessageStatus.SENT: MESSAGES}
    assert all(d.stats.sent > 0 for d in dispatchers), [d.stats.sent for d in dispatchers]
    assert sum(d.stats.sent for d in dispatchers) == MESSAGES


async def test_second_dispatcher_starting_keeps_the_first_ones_text_in_flight(pg_url: str) -> None:
    """A text in flight at instance A must end ``sent`` when instance B starts meanwhile."""
    keys: Counter[str] = Counter()
    gate = asyncio.Event()
    async with engines(pg_url, 2) as (engine_a, engine_b):
        sessions_a, sessions_b = Sessions(engine_a), Sessions(engine_b)
        await _insert(sessions_a, 1)
        slow = CountingProvider(keys, gate=gate)
        first = _dispatcher(sessions_a, slow, "a")
        second = _dispatcher(sessions_b, CountingProvider(keys), "b")
        run_a = asyncio.create_task(first.run())
        run_b: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(30):
                await slow.entered.wait()  # A committed sending_at and is mid-request
                run_b = asyncio.create_task(second.run())
                await sessions_b.past_recovery.wait()
            gate.set()
            async with asyncio.timeout(30):
                while first.stats.sent < 1:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
        finally:
            gate.set()
            first.stop()
            second.stop()
            await asyncio.gather(run_a, *([run_b] if run_b else []))
        async with sessions_a() as session:
            status = await session.scalar(select(Message.status))
    assert keys == Counter({"pbx-test:1800000000.0:textback": 1})
    assert status is MessageStatus.SENT
