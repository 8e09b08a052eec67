"""CRM webhooks against a local receiver: signature, retries, at most once, event filter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.crm.hooks import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)
from asterisk_textback.crm.settings import CrmEventType
from asterisk_textback.crm.status import CrmEventStatus
from asterisk_textback.store.models import CrmEvent
from tests.crm.conftest import Receiver
from tests.crm.support import KEY, Clock, build, settings

Sessions = async_sessionmaker[AsyncSession]
ALL = tuple(CrmEventType)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session, closed afterwards."""
    async with aiohttp.ClientSession() as client:
        yield client


async def test_post_is_signed_and_tagged(
    session_factory: Sessions, receiver: tuple[Receiver, str], http: aiohttp.ClientSession
) -> None:
    """The receiver can verify the signature; the body carries the lead source."""
    recv, url = receiver
    clock = Clock()
    hooks, dispatcher = build(settings(("crm", url, ALL)), session_factory, http, clock)
    await hooks.emit(CrmEventType.REPLY, "reply:1", {"contact": {"phone": "+12125550147"}})
    assert await dispatcher.deliver_due() == 1
    [(headers, body)] = recv.posts
    assert verify_signature(
        KEY,
        timestamp=headers[TIMESTAMP_HEADER],
        signature=headers[SIGNATURE_HEADER],
        body=body,
        now=clock.now,
    )
    # Replayed later, or with an edited body or timestamp: refused.
    stamp, signature = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert not verify_signature(
        KEY, timestamp=stamp, signature=signature, body=body, now=clock.now + 900
    )
    assert not verify_signature(
        KEY, timestamp=stamp, signature=signature, body=body + b" ", now=clock.now
    )
    assert not verify_signature(KEY, timestamp="x", signature=signature, body=body, now=clock.now)
    assert headers["Idempotency-Key"] == "reply:1"
    assert headers[EVENT_HEADER] == "reply"
    data = json.loads(body)
    assert (data["event"], data["id"], data["lead_source"]) == (
        "reply",
        "reply:1",
        "missed-call-textback",
    )


async def test_retries_after_500_until_success_then_never_again(
    session_factory: Sessions, receiver: tuple[Receiver, str], http: aiohttp.ClientSession
) -> None:
    """500, 500, then 200: three posts with one Idempotency-Key, then none."""
    recv, url = receiver
    recv.statuses = [500, 500]
    clock = Clock()
    hooks, dispatcher = build(settings(("crm", url, ALL)), session_factory, http, clock)
    await hooks.emit(CrmEventType.BOOKING, "booking:1:booked:100", {})
    assert await dispatcher.deliver_due() == 1
    assert await dispatcher.deliver_due() == 0  # backing off: not due yet
    clock.now += 10
    assert await dispatcher.deliver_due() == 1
    clock.now += 15
    assert await dispatcher.deliver_due() == 0  # second backoff is 20 s
    clock.now += 5
    assert await dispatcher.deliver_due() == 1
    clock.now += 10_000
    assert await dispatcher.deliver_due() == 0
    assert [h["Idempotency-Key"] for h, _ in recv.posts] == ["booking:1:booked:100"] * 3
    async with session_factory() as session:
        row = await session.scalar(select(CrmEvent))
    assert row is not None
    assert (row.status, row.attempts, row.last_error) == (CrmEventStatus.DELIVERED, 3, None)


async def test_gives_up_after_max_attempts(
    session_factory: Sessions, receiver: tuple[Receiver, str], http: aiohttp.ClientSession
) -> None:
    """An endpoint that keeps failing: the event is kept as failed, not posted forever."""
    recv, url = receiver
    recv.statuses = [503] * 10
    clock = Clock()
    config = settings(("crm", url, ALL), max_attempts=2)
    hooks, dispatcher = build(config, session_factory, http, clock)
    await hooks.emit(CrmEventType.OPT_OUT, "opt_out:1", {})
    for _ in range(4):
        await dispatcher.deliver_due()
        clock.now += 3600
    assert len(recv.posts) == 2
    async with session_factory() as session:
        row = await session.scalar(select(CrmEvent))
    assert row is not None
    assert (row.status, row.last_error) == (CrmEventStatus.FAILED, "HTTP 503")


async def test_unreachable_endpoint_is_retried(
    session_factory: Sessions, receiver: tuple[Receiver, str], http: aiohttp.ClientSession
) -> None:
    """A connection error counts as a failure to retry, like a 5xx."""
    clock = Clock()
    config = settings(("down", "http://127.0.0.1:9/hook", ALL))
    hooks, dispatcher = build(config, session_factory, http, clock)
    await hooks.emit(CrmEventType.REPLY, "reply:9", {})
    assert await dispatcher.deliver_due() == 1
    async with session_factory() as session:
        row = await session.scalar(select(CrmEvent))
    assert row is not None
    assert row.status is CrmEventStatus.PENDING
    assert row.last_error is not None


async def test_events_filter_and_idempotent_emit(
    session_factory: Sessions, receiver: tuple[Receiver, str], http: aiohttp.ClientSession
) -> None:
    """Each endpoint gets only its events; emitting an event twice posts it once."""
    recv, url = receiver
    clock = Clock()
    config = settings(
        ("everything", url + "?all", ALL),
        ("bookings", url + "?bookings", (CrmEventType.BOOKING,)),
    )
    hooks, dispatcher = build(config, session_factory, http, clock)
    assert await hooks.emit(CrmEventType.REPLY, "reply:1", {}) == 1
    assert await hooks.emit(CrmEventType.BOOKING, "booking:1", {}) == 2
    assert await hooks.emit(CrmEventType.BOOKING, "booking:1", {}) == 0
    while await dispatcher.deliver_due():
        pass
    seen = sorted((h[EVENT_HEADER], h["Idempotency-Key"]) for h, _ in recv.posts)
    assert seen == [("booking", "booking:1"), ("booking", "booking:1"), ("reply", "reply:1")]


async def test_run_loop_delivers_when_woken(
    session_factory: Sessions, receiver: tuple[Receiver, str], http: aiohttp.ClientSession
) -> None:
    """The worker loop posts a queued event and stops cleanly."""
    recv, url = receiver
    clock = Clock()
    config = settings(("crm", url, ALL), poll_seconds=30)
    hooks, dispatcher = build(config, session_factory, http, clock)
    task = asyncio.create_task(dispatcher.run())
    await hooks.emit(CrmEventType.REPLY, "reply:5", {})
    dispatcher.wake()
    await asyncio.wait_for(recv.got.wait(), 5)
    dispatcher.stop()
    await asyncio.wait_for(task, 5)
    assert len(recv.posts) == 1
