"""``/metrics`` shows provider outages: latency from the first due time, retries by cause."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.sms.settings import ProviderSettings, WebhookSettings
from asterisk_textback.sms.vendors.webhook import WebhookProvider
from asterisk_textback.store.models import Message, MessageStatus
from asterisk_textback.web.metrics import MetricsSource, render
from tests.app.fakes import Reply, fake_gateway
from tests.app.queued import queue_texts

Sessions = async_sessionmaker[AsyncSession]
FAST = DispatchSettings(workers=1, batch_size=10, retry_min_seconds=0.1, poll_seconds=0.02)


@asynccontextmanager
async def _dispatching(sessions: Sessions, url: str) -> AsyncIterator[Dispatcher]:
    hook = WebhookSettings.model_validate({"url": url, "timeout_seconds": 2.0})
    async with aiohttp.ClientSession() as http:
        dispatcher = Dispatcher(
            sessions, WebhookProvider(hook, http, None), FAST, ProviderSettings()
        )
        task = asyncio.create_task(dispatcher.run())
        try:
            yield dispatcher
        finally:
            dispatcher.stop()
            await task


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
    session_factory: Sessions,
) -> None:
    await queue_texts(session_factory, 1)
    async with fake_gateway() as gateway:
        # A provider outage: two 5xx answers and one 429 with Retry-After, then accepted.
        gateway.script = [Reply(503), Reply(429, {}, {"Retry-After": "0.3"}), Reply(502)]
        started = time.monotonic()
        async with _dispatching(session_factory, gateway.url) as dispatcher:
            async with asyncio.timeout(10):
                while await _status(session_factory) is not MessageStatus.SENT:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            held = time.monotonic() - started
            metrics = await _scrape(dispatcher)
    assert len(gateway.requests) == 4
    # Backoffs 0.1 s, then max(0.2, Retry-After 0.3), then 0.4: held at least 0.8 s.
    assert held >= 0.8
    assert metrics["textback_send_latency_seconds_count"] == 1
    latency = metrics["textback_send_latency_seconds_sum"]
    assert 0.8 <= latency <= held + 0.5
    assert metrics['textback_send_latency_seconds_bucket{le="0.5"}'] == 0
    assert metrics['textback_send_retries_total{cause="transient"}'] == 2
    assert metrics['textback_send_retries_total{cause="throttled"}'] == 1
    assert 'textback_send_retries_total{cause="connection"}' not in metrics


async def test_provider_unreachable_is_a_connection_retry(session_factory: Sessions) -> None:
    await queue_texts(session_factory, 1)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with _dispatching(session_factory, f"http://127.0.0.1:{port}/send") as dispatcher:
        async with asyncio.timeout(5):
            while not dispatcher.stats.retries_by_cause:  # noqa: ASYNC110 - a counter
                await asyncio.sleep(0.02)
        metrics = await _scrape(dispatcher)
    assert metrics['textback_send_retries_total{cause="connection"}'] >= 1
    assert metrics["textback_send_latency_seconds_count"] == 0
    assert await _status(session_factory) is MessageStatus.QUEUED
