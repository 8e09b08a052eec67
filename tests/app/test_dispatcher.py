"""The dispatcher against a local HTTP gateway: each vendor answer maps to the right state.

The dispatcher runs on a :class:`~tests.fakeclock.FakeClock`: its rate slots, polls,
back-offs and pauses pass in virtual time, so the tests assert exact times and wait for
none of them (only for the database and the gateway, which are real).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
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
from asterisk_textback.sms.base import OutboundSms, Provider, SendResult
from asterisk_textback.sms.settings import ProviderSettings, WebhookSettings
from asterisk_textback.sms.vendors.webhook import WebhookProvider
from asterisk_textback.store import contacts
from asterisk_textback.store.models import Message
from tests.app.fakes import FakeGateway, Reply, fake_gateway
from tests.app.queued import queue_texts
from tests.fakeclock import FakeClock

Sessions = async_sessionmaker[AsyncSession]
FAST = DispatchSettings(workers=1, batch_size=10, retry_min_seconds=0.2, poll_seconds=0.05)
#: The databases keep times to the microsecond: virtual times compare to that.
US = 1e-6
#: Timers a dispatcher with one worker holds when it waits only for time: the worker's
#: poll (or rate slot) and the housekeeping timer.
PARKED = 2


class Timed:
    """A provider that notes the (virtual) time of each send, then sends through ``inner``."""

    def __init__(self, inner: Provider, clock: FakeClock) -> None:
        self.name = inner.name
        self._inner = inner
        self._clock = clock
        #: Virtual time of each send() call, in order.
        self.times: list[float] = []

    async def send(self, sms: OutboundSms) -> SendResult:
        """Note the time, then send."""
        self.times.append(self._clock.time())
        return await self._inner.send(sms)


async def _rows(sessions: Sessions) -> list[Message]:
    async with sessions() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def _queue(
    sessions: Sessions, clock: FakeClock, n: int, **kwargs: tuple[str, ...]
) -> list[int]:
    """Queue ``n`` texts due now by the fake clock."""
    return await queue_texts(sessions, n, now=datetime.fromtimestamp(clock.now, UTC), **kwargs)


@asynccontextmanager
async def _dispatching(
    sessions: Sessions,
    gateway: FakeGateway,
    clock: FakeClock,
    *,
    rate: float = 1000.0,
    http_timeout: float = 2.0,
    key: bytes | None = None,
    autojump: bool = True,
) -> AsyncIterator[tuple[Dispatcher, Timed]]:
    """A running dispatcher on ``clock``; with ``autojump``, time moves whenever it is parked.

    On the way out it is stopped with time moving, so a text waiting for its slot gets there.
    """
    hook = WebhookSettings.model_validate({"url": gateway.url, "timeout_seconds": http_timeout})
    async with aiohttp.ClientSession() as http:
        provider = Timed(WebhookProvider(hook, http, key), clock)
        dispatcher = Dispatcher(
            sessions,
            provider,
            FAST,
            ProviderSettings(rate_per_second=rate),
            clock=clock.time,
            sleep=clock.sleep,
        )
        task = asyncio.create_task(dispatcher.run())
        try:
            if autojump:
                async with clock.autojump(PARKED):
                    yield dispatcher, provider
            else:
                yield dispatcher, provider
        finally:
            dispatcher.stop()
            async with clock.autojump(1):  # housekeeping has ended: only the worker's timers
                await task


async def _until_settled(sessions: Sessions, seconds: float = 5.0) -> list[Message]:
    async with asyncio.timeout(seconds):
        while True:
            rows = await _rows(sessions)
            busy = {MessageStatus.QUEUED, MessageStatus.SENDING}
            if not any(r.status in busy for r in rows):
                return rows
            await asyncio.sleep(0.01)  # a poll of the database, not a timer


async def _pass(clock: FakeClock, seconds: float) -> None:
    """Let ``seconds`` of virtual time pass poll by poll, the dispatcher parked after each."""
    await clock.tick(seconds, step=FAST.poll_seconds, sleepers=PARKED)


async def test_sent_once_with_idempotency_key_and_provider_id(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    await _queue(session_factory, fake_clock, 3)
    async with fake_gateway() as gateway, _dispatching(session_factory, gateway, fake_clock):
        rows = await _until_settled(session_factory)
    assert [r.status for r in rows] == [MessageStatus.SENT] * 3
    # Each row holds the id the gateway gave to the request carrying that row's key.
    keys = [h["Idempotency-Key"] for h in gateway.headers]
    assert sorted(keys) == ["test:0", "test:1", "test:2"]
    for row in rows:
        assert row.provider_message_id == f"gw-{keys.index(row.idempotency_key) + 1}"
    first = gateway.requests[keys.index("test:0")]
    assert first["to"] == "+12125551000"
    assert first["from"] == "+15555550100"
    assert len(gateway.requests) == 3


async def test_texts_with_free_rate_slots_leave_together(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    """One ``sending_at`` commit for the wave, then the requests go out concurrently."""
    await _queue(session_factory, fake_clock, 6)
    async with fake_gateway() as gateway:
        gateway.script = [Reply(delay=0.3) for _ in range(6)]
        async with _dispatching(session_factory, gateway, fake_clock) as (_, provider):
            rows = await _until_settled(session_factory)
    assert [r.status for r in rows] == [MessageStatus.SENT] * 6
    assert len({r.sending_at for r in rows}) == 1
    # All six in the gateway's hands at once (so the wave took one delay, not six), each
    # handed over at its own rate slot (1,000/s: a millisecond apart).
    assert gateway.max_in_flight == 6
    began = provider.times[0]
    assert provider.times == pytest.approx([began + 0.001 * i for i in range(6)], abs=US)


async def test_a_text_waiting_for_its_slot_is_not_marked_sending(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    """Two senders at 2 texts/s each: A1 and B1 leave at once, A2 and B2 half a second on."""
    began = fake_clock.now
    await _queue(session_factory, fake_clock, 4, senders=("+15555550100", "+15555550101"))
    async with (
        fake_gateway() as gateway,
        _dispatching(session_factory, gateway, fake_clock, rate=2.0, autojump=False) as (
            _,
            provider,
        ),
    ):
        # Parked on A2's slot (half a second on): A2 and B2 claimed, neither marked sending.
        async with asyncio.timeout(5):
            await fake_clock.parked(PARKED)
        assert fake_clock.next_deadline() == began + 0.5
        waiting = (await _rows(session_factory))[2:]
        assert [r.sending_at for r in waiting] == [None, None]
        assert [r.status for r in waiting] == [MessageStatus.SENDING] * 2
        fake_clock.advance(0.5)
        rows = await _until_settled(session_factory)
    assert [r.status for r in rows] == [MessageStatus.SENT] * 4
    first, second = rows[0].sending_at, rows[2].sending_at
    assert first is not None
    assert second is not None
    assert rows[1].sending_at == first
    assert rows[3].sending_at == second
    assert (second - first).total_seconds() == 0.5
    assert provider.times == [began, began, began + 0.5, began + 0.5]


async def test_rate_limited_then_retried_after_retry_after(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    (mid,) = await _queue(session_factory, fake_clock, 1)
    async with fake_gateway() as gateway:
        gateway.script = [Reply(429, {"error": "rate"}, {"Retry-After": "0.5"}), Reply(503)]
        async with _dispatching(session_factory, gateway, fake_clock) as (_, provider):
            rows = await _until_settled(session_factory)
    assert len(gateway.requests) == 3
    first, second, third = provider.times
    # Retry-After 0.5 beats the 0.2 s back-off; then 0.4 s (doubled); each retry comes at
    # the first poll (every 0.05 s) after it is due, never before (to the database's
    # microsecond).
    assert 0.5 - US <= second - first < 0.5 + FAST.poll_seconds
    assert 0.4 - US <= third - second < 0.4 + FAST.poll_seconds
    (row,) = rows
    assert row.id == mid
    assert row.status is MessageStatus.SENT
    assert row.attempts == 3


async def test_landline_marks_the_contact_no_sms(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    await _queue(session_factory, fake_clock, 1)
    async with fake_gateway() as gateway:
        gateway.script = [Reply(400, {"error": "landline"})]
        async with _dispatching(session_factory, gateway, fake_clock):
            (row,) = await _until_settled(session_factory)
    assert row.status is MessageStatus.FAILED
    async with session_factory() as session:
        contact = await contacts.get_contact(session, row.to_e164)
    assert contact is not None
    assert contact.sms_capable is False


async def test_opted_out_at_the_carrier_opts_the_contact_out(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    await _queue(session_factory, fake_clock, 1)
    async with fake_gateway() as gateway:
        gateway.script = [Reply(400, {"error": "opted_out"})]
        async with _dispatching(session_factory, gateway, fake_clock):
            (row,) = await _until_settled(session_factory)
    async with session_factory() as session:
        contact = await contacts.get_contact(session, row.to_e164)
    assert contact is not None
    assert contact.opted_out


async def test_auth_error_pauses_sending_and_keeps_the_text(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    await _queue(session_factory, fake_clock, 2)
    async with fake_gateway() as gateway:
        gateway.script = [Reply(401, {"error": "bad key"})]
        # 10/s: the second text's slot is not in the first one's wave (those leave together).
        async with _dispatching(
            session_factory, gateway, fake_clock, rate=10.0, autojump=False
        ) as (dispatcher, _):
            async with asyncio.timeout(5):
                await fake_clock.parked(PARKED)
            # The second text waits for its slot, 0.1 s on; then the pause holds it.
            await _pass(fake_clock, 1.0)
            rows = await _rows(session_factory)
    assert "401" in (dispatcher.paused or "")
    assert len(gateway.requests) == 1  # no hammering while paused
    assert [r.status for r in rows] == [MessageStatus.QUEUED, MessageStatus.QUEUED]


async def test_timeout_is_unknown_never_resent(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    await _queue(session_factory, fake_clock, 1)
    async with fake_gateway() as gateway:
        # The provider's own timeout is real (aiohttp's): the gateway answers after it.
        gateway.script = [Reply(delay=0.6)]
        async with _dispatching(
            session_factory, gateway, fake_clock, http_timeout=0.2, autojump=False
        ):
            (row,) = await _until_settled(session_factory)
            await _pass(fake_clock, 1.0)  # 20 polls: room for a wrong second send
    assert row.status is MessageStatus.UNKNOWN
    assert len(gateway.requests) == 1


async def test_hmac_signature_lets_the_gateway_check_the_sender(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    await _queue(session_factory, fake_clock, 1)
    async with (
        fake_gateway() as gateway,
        _dispatching(session_factory, gateway, fake_clock, key=b"k3y"),
    ):
        await _until_settled(session_factory)
    expected = hmac.new(b"k3y", gateway.raw[0], hashlib.sha256).hexdigest()
    assert gateway.headers[0]["X-Textback-Signature"] == f"sha256={expected}"


async def test_per_sender_rate_limit_spaces_texts(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    began = fake_clock.now
    await _queue(session_factory, fake_clock, 4)
    async with (
        fake_gateway() as gateway,
        _dispatching(session_factory, gateway, fake_clock, rate=10.0) as (_, provider),
    ):
        await _until_settled(session_factory)
    # 4 texts, 0.1 s apart, each at its slot.
    assert provider.times == pytest.approx([began + 0.1 * i for i in range(4)], abs=US)
    assert len(gateway.requests) == 4


async def test_stop_puts_claimed_but_unsent_texts_back(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    await _queue(session_factory, fake_clock, 5)
    async with (
        fake_gateway() as gateway,
        _dispatching(session_factory, gateway, fake_clock, rate=2.0, autojump=False),
    ):
        async with asyncio.timeout(5):
            await gateway.arrived.wait()
    rows = await _rows(session_factory)
    statuses = [r.status for r in rows]
    assert MessageStatus.SENDING not in statuses
    sent = statuses.count(MessageStatus.SENT)
    assert sent == len(gateway.requests) >= 1
    assert statuses.count(MessageStatus.QUEUED) == 5 - sent
