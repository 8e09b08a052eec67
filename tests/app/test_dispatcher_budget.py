"""A host's dispatchers (:class:`PollBudget`): idle polls spread out, due texts on time.

With a budget a dispatcher polls for texts queued elsewhere only every
``workers / per_second`` seconds, yet a retry or a text due later is sent when it falls due
(it sleeps until the outbox's next due text), not at the next spread-out poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.outbox.pacing import PollBudget
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.sms.settings import ProviderSettings, WebhookSettings
from asterisk_textback.sms.vendors.webhook import WebhookProvider
from asterisk_textback.store.outbox_due import next_due
from tests.app.fakes import FakeGateway, Reply, fake_gateway
from tests.app.queued import queue_texts
from tests.app.test_dispatcher import Timed, _until_settled
from tests.fakeclock import FakeClock

Sessions = async_sessionmaker[AsyncSession]
FAST = DispatchSettings(workers=1, batch_size=10, retry_min_seconds=0.2, poll_seconds=0.05)
#: One worker's idle poll plus the housekeeping timer.
PARKED = 2
#: 0.1 polls a second for the one worker: it polls every 10 s (not every 0.05 s).
SPREAD = 10.0


def test_budget_interval_grows_with_the_workers_polling() -> None:
    budget = PollBudget(20.0)
    assert budget.interval(1.0) == 1.0  # nobody yet: the configured poll
    for _ in range(400):  # 200 tenants, 2 workers each
        budget.join()
    assert budget.interval(1.0) == 20.0
    assert budget.interval(30.0) == 30.0  # never more often than configured
    for _ in range(390):
        budget.leave()
    assert budget.workers == 10
    assert budget.interval(1.0) == 1.0
    with pytest.raises(ValueError, match="per_second"):
        PollBudget(0)


@asynccontextmanager
async def _dispatching(
    sessions: Sessions, gateway: FakeGateway, clock: FakeClock, budget: PollBudget
) -> AsyncIterator[Timed]:
    hook = WebhookSettings.model_validate({"url": gateway.url, "timeout_seconds": 2.0})
    async with aiohttp.ClientSession() as http:
        provider = Timed(WebhookProvider(hook, http, None), clock)
        dispatcher = Dispatcher(
            sessions,
            provider,
            FAST,
            ProviderSettings(rate_per_second=1000.0),
            clock=clock.time,
            sleep=clock.sleep,
            budget=budget,
        )
        task = asyncio.create_task(dispatcher.run())
        try:
            yield provider
        finally:
            dispatcher.stop()
            async with clock.autojump(1):
                await task
    assert budget.workers == 0  # the worker left the budget when it stopped


def _at(clock: FakeClock, later: float = 0.0) -> datetime:
    return datetime.fromtimestamp(clock.now + later, UTC)


async def test_a_text_queued_elsewhere_waits_for_the_spread_out_poll(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    start = fake_clock.now
    async with (
        fake_gateway() as gateway,
        _dispatching(session_factory, gateway, fake_clock, PollBudget(0.1)) as provider,
    ):
        async with asyncio.timeout(10):
            await fake_clock.parked(PARKED)
        assert SPREAD in fake_clock.slept  # idle with nothing queued: the budget's poll
        assert FAST.poll_seconds not in fake_clock.slept
        # Queued by another process: nothing wakes this dispatcher.
        await queue_texts(session_factory, 1, now=_at(fake_clock))
        await fake_clock.tick(SPREAD - 1.0, step=1.0, sleepers=PARKED)
        assert provider.times == []  # 9 s on: not found yet
        fake_clock.advance(1.0)
        rows = await _until_settled(session_factory)
    assert [r.status for r in rows] == [MessageStatus.SENT]
    assert provider.times == [start + SPREAD]


async def test_a_text_due_later_goes_when_due_not_at_the_next_poll(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    start = fake_clock.now
    await queue_texts(session_factory, 1, now=_at(fake_clock, 3.0))
    async with (
        fake_gateway() as gateway,
        _dispatching(session_factory, gateway, fake_clock, PollBudget(0.1)) as provider,
        fake_clock.autojump(PARKED),
    ):
        rows = await _until_settled(session_factory)
    assert [r.status for r in rows] == [MessageStatus.SENT]
    (sent,) = provider.times
    assert sent == pytest.approx(start + 3.0, abs=1e-5)  # the database's microseconds


async def test_a_retry_goes_when_due_not_at_the_next_poll(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    await queue_texts(session_factory, 1, now=_at(fake_clock))
    async with fake_gateway() as gateway:
        gateway.script = [Reply(503)]
        async with (
            _dispatching(session_factory, gateway, fake_clock, PollBudget(0.1)) as provider,
            fake_clock.autojump(PARKED),
        ):
            rows = await _until_settled(session_factory)
    assert [r.status for r in rows] == [MessageStatus.SENT]
    assert rows[0].attempts == 2
    first, second = provider.times
    assert second - first == pytest.approx(FAST.retry_min_seconds, abs=1e-5)


async def test_next_due_skips_expired_and_sent_texts(session_factory: Sessions) -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert await next_due(session_factory, now) is None
    await queue_texts(session_factory, 2, now=now + timedelta(seconds=5))
    assert await next_due(session_factory, now) == (now + timedelta(seconds=5)).timestamp()
    # Past their max age (an hour after they were due): none left to wait for.
    assert await next_due(session_factory, now + timedelta(hours=2)) is None
