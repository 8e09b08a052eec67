"""``/metrics`` shows provider outages: latency from the first due time, retries by cause.

The dispatcher runs on a fake clock (:mod:`tests.fakeclock`): the outage's back-offs pass
in virtual time, and the latency it reports is checked to the microsecond.
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.sms.settings import ProviderSettings, WebhookSettings
from asterisk_textback.sms.vendors.webhook import WebhookProvider
from asterisk_textback.store.models import Message
from asterisk_textback.web.metrics import MetricsSource, render
from tests.app.fakes import Reply, fake_gateway
from tests.app.queued import queue_texts
from tests.fakeclock import FakeClock

Sessions = async_sessionmaker[AsyncSession]
FAST = DispatchSettings(workers=1, batch_size=10, retry_min_seconds=0.1, poll_seconds=0.02)
#: One worker's poll and the housekeeping timer: the dispatcher waits only for time.
PARKED = 2


@asynccontextmanager
async def _dispatching(sessions: Sessions, url: str, clock: FakeClock) -> AsyncIterator[Dispatcher]:
    """A dispatcher on ``clock``; time jumps to its next timer whenever it is parked."""
    hook = WebhookSettings.model_validate({"url": url, "timeout_seconds": 2.0})
    async with aiohttp.ClientSession() as http:
        dispatcher = Dispatcher(
            sessions,
            WebhookProvider(hook, http, None),
            FAST,
            ProviderSettings(),
            clock=clock.time,
            sleep=clock.sleep,
        )
        task = asyncio.create_task(dispatcher.run())
        try:
            async with clock.autojump(PARKED):
                yield dispatcher
        finally:
            dispatcher.stop()
            async with clock.autojump(1):
                await task


async def _queue(sessions: Sessions, clock: FakeClock) -> None:
    """One text, due now by the fake clock."""
    await queue_texts(sessions, 1, now=datetime.fromtimestamp(clock.now, UTC))


async def _scrape(dispatcher: Dispatcher) -> dict[str, float]:
    async def depth() -> dict[str, int]:
        return {}

    source = MetricsSource(
        calls_by_outcome=dict,
        texts_sent=Counter,
        send_latency=dispatcher.latency,
        ami_states=dict,
        outbox_depth=depth,
        send_retries=lambda: dict(dispatcher.stats.retries_by_cause),
    )
    body = await render(source)
    values = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def _status(sessions: Sessions) -> MessageStatus:
    async with sessions() as session:
        (row,) = (await session.scalars(select(Message))).all()
        return row.status


async def test_latency_counts_the_outage_and_retries_name_their_cause(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    await _queue(session_factory, fake_clock)
    async with fake_gateway() as gateway:
        # A provider outage: two 5xx answers and one 429 with Retry-After, then accepted.
        gateway.script = [Reply(503), Reply(429, {}, {"Retry-After": "0.3"}), Reply(502)]
        async with _dispatching(session_factory, gateway.url, fake_clock) as dispatcher:
            async with asyncio.timeout(10):
                while await _status(session_factory) is not MessageStatus.SENT:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)  # a poll of the database, not a timer
            metrics = await _scrape(dispatcher)
    assert len(gateway.requests) == 4
    assert metrics["textback_send_latency_seconds_count"] == 1
    # From the first due time (queued now) to the 200, outage included. The backoffs (0.1 s,
    # then max(0.2, Retry-After 0.3), then 0.4) are each shorter than the sender's rate slot
    # (the default 1 text/s), so each attempt goes at its slot: 0, 1, 2 and 3 s.
    latency = metrics["textback_send_latency_seconds_sum"]
    assert latency == pytest.approx(3.0, abs=1e-6)
    assert metrics['textback_send_latency_seconds_bucket{le="0.5"}'] == 0
    assert metrics['textback_send_retries_total{cause="transient"}'] == 2
    assert metrics['textback_send_retries_total{cause="throttled"}'] == 1
    assert 'textback_send_retries_total{cause="connection"}' not in metrics


async def test_provider_unreachable_is_a_connection_retry(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    await _queue(session_factory, fake_clock)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/send"
    async with _dispatching(session_factory, url, fake_clock) as dispatcher:
        async with asyncio.timeout(5):
            while not dispatcher.stats.retries_by_cause:  # noqa: ASYNC110 - a counter
                await asyncio.sleep(0.01)  # a poll of a counter, not a timer
        metrics = await _scrape(dispatcher)
    assert metrics['textback_send_retries_total{cause="connection"}'] >= 1
    assert metrics["textback_send_latency_seconds_count"] == 0
    assert await _status(session_factory) is MessageStatus.QUEUED
