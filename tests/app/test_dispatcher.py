"""The dispatcher against a local HTTP gateway: each vendor answer maps to the right state."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.sms.settings import ProviderSettings, WebhookSettings
from asterisk_textback.sms.vendors.webhook import WebhookProvider
from asterisk_textback.store import contacts
from asterisk_textback.store.models import Message, MessageStatus
from tests.app.fakes import FakeGateway, Reply, fake_gateway
from tests.app.queued import queue_texts

Sessions = async_sessionmaker[AsyncSession]
FAST = DispatchSettings(workers=1, batch_size=10, retry_min_seconds=0.2, poll_seconds=0.05)


async def _rows(sessions: Sessions) -> list[Message]:
    async with sessions() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


@asynccontextmanager
async def _dispatching(
    sessions: Sessions,
    gateway: FakeGateway,
    *,
    rate: float = 1000.0,
    http_timeout: float = 2.0,
    key: bytes | None = None,
) -> AsyncIterator[Dispatcher]:
    hook = WebhookSettings.model_validate({"url": gateway.url, "timeout_seconds": http_timeout})
    async with aiohttp.ClientSession() as http:
        dispatcher = Dispatcher(
            sessions,
            WebhookProvider(hook, http, key),
            FAST,
            ProviderSettings(rate_per_second=rate),
        )
        task = asyncio.create_task(dispatcher.run())
        try:
            yield dispatcher
        finally:
            dispatcher.stop()
            await task


async def _until_settled(sessions: Sessions, seconds: float = 5.0) -> list[Message]:
    async with asyncio.timeout(seconds):
        while True:
            rows = await _rows(sessions)
            busy = {MessageStatus.QUEUED, MessageStatus.SENDING}
            if not any(r.status in busy for r in rows):
                return rows
            await asyncio.sleep(0.05)


async def test_sent_once_with_idempotency_key_and_provider_id(session_factory: Sessions) -> None:
    await queue_texts(session_factory, 3)
    async with fake_gateway() as gateway, _dispatching(session_factory, gateway):
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


async def test_texts_with_free_rate_slots_leave_together(session_factory: Sessions) -> None:
    """One ``sending_at`` commit for the wave, then the requests go out concurrently."""
    await queue_texts(session_factory, 6)
    async with fake_gateway() as gateway:
        gateway.script = [Reply(delay=0.3) for _ in range(6)]
        started = time.monotonic()
        async with _dispatching(session_factory, gateway):
            rows = await _until_settled(session_factory)
        took = time.monotonic() - started
    assert [r.status for r in rows] == [MessageStatus.SENT] * 6
    assert len({r.sending_at for r in rows}) == 1
    assert gateway.max_in_flight == 6
    assert took < 6 * 0.3


async def test_a_text_waiting_for_its_slot_is_not_marked_sending(
    session_factory: Sessions,
) -> None:
    """Two senders at 2 texts/s each: A1 and B1 leave at once, A2 and B2 half a second on."""
    await queue_texts(session_factory, 4, senders=("+15555550100", "+15555550101"))
    async with fake_gateway() as gateway, _dispatching(session_factory, gateway, rate=2.0):
        rows = await _until_settled(session_factory)
    assert [r.status for r in rows] == [MessageStatus.SENT] * 4
    first, second = rows[0].sending_at, rows[2].sending_at
    assert first is not None
    assert second is not None
    assert rows[1].sending_at == first
    assert rows[3].sending_at == second
    assert (second - first).total_seconds() >= 0.45


async def test_rate_limited_then_retried_after_retry_after(session_factory: Sessions) -> None:
    (mid,) = await queue_texts(session_factory, 1)
    async with fake_gateway() as gateway:
        gateway.script = [Reply(429, {"error": "rate"}, {"Retry-After": "0.5"}), Reply(503)]
        started = time.monotonic()
        async with _dispatching(session_factory, gateway):
            async with asyncio.timeout(5):
                while len(gateway.requests) < 3:  # noqa: ASYNC110 - counting a fake's hits
                    await asyncio.sleep(0.02)
            rows = await _until_settled(session_factory)
    assert time.monotonic() - started >= 0.5
    (row,) = rows
    assert row.id == mid
    assert row.status is MessageStatus.SENT
    assert row.attempts == 3


async def test_landline_marks_the_contact_no_sms(session_factory: Sessions) -> None:
    await queue_texts(session_factory, 1)
    async with fake_gateway() as gateway:
        gateway.script = [Reply(400, {"error": "landline"})]
        async with _dispatching(session_factory, gateway):
            (row,) = await _until_settled(session_factory)
    assert row.status is MessageStatus.FAILED
    async with session_factory() as session:
        contact = await contacts.get_contact(session, row.to_e164)
    assert contact is not None
    assert contact.sms_capable is False


async def test_opted_out_at_the_carrier_opts_the_contact_out(session_factory: Sessions) -> None:
    await queue_texts(session_factory, 1)
    async with fake_gateway() as gateway:
        gateway.script = [Reply(400, {"error": "opted_out"})]
        async with _dispatching(session_factory, gateway):
            (row,) = await _until_settled(session_factory)
    async with session_factory() as session:
        contact = await contacts.get_contact(session, row.to_e164)
    assert contact is not None
    assert contact.opted_out


async def test_auth_error_pauses_sending_and_keeps_the_text(session_factory: Sessions) -> None:
    await queue_texts(session_factory, 2)
    async with fake_gateway() as gateway:
        gateway.script = [Reply(401, {"error": "bad key"})]
        # 10/s: the second text's slot is not in the first one's wave (those leave together).
        async with _dispatching(session_factory, gateway, rate=10.0) as dispatcher:
            async with asyncio.timeout(5):
                while dispatcher.paused is None:  # noqa: ASYNC110 - state of the object under test
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
            rows = await _rows(session_factory)
    assert "401" in (dispatcher.paused or "")
    assert len(gateway.requests) == 1  # no hammering while paused
    assert [r.status for r in rows] == [MessageStatus.QUEUED, MessageStatus.QUEUED]


async def test_timeout_is_unknown_never_resent(session_factory: Sessions) -> None:
    await queue_texts(session_factory, 1)
    async with fake_gateway() as gateway:
        gateway.script = [Reply(delay=1.0)]
        async with _dispatching(session_factory, gateway, http_timeout=0.2):
            (row,) = await _until_settled(session_factory)
            await asyncio.sleep(0.3)
    assert row.status is MessageStatus.UNKNOWN
    assert len(gateway.requests) == 1


async def test_hmac_signature_lets_the_gateway_check_the_sender(
    session_factory: Sessions,
) -> None:
    await queue_texts(session_factory, 1)
    async with fake_gateway() as gateway, _dispatching(session_factory, gateway, key=b"k3y"):
        await _until_settled(session_factory)
    expected = hmac.new(b"k3y", gateway.raw[0], hashlib.sha256).hexdigest()
    assert gateway.headers[0]["X-Textback-Signature"] == f"sha256={expected}"


async def test_per_sender_rate_limit_spaces_texts(session_factory: Sessions) -> None:
    await queue_texts(session_factory, 4)
    async with fake_gateway() as gateway:
        started = time.monotonic()
        async with _dispatching(session_factory, gateway, rate=10.0):
            await _until_settled(session_factory)
    assert time.monotonic() - started >= 0.3  # 4 texts, 0.1 s apart
    assert len(gateway.requests) == 4


async def test_stop_puts_claimed_but_unsent_texts_back(session_factory: Sessions) -> None:
    await queue_texts(session_factory, 5)
    async with fake_gateway() as gateway, _dispatching(session_factory, gateway, rate=2.0):
        async with asyncio.timeout(5):
            await gateway.arrived.wait()
    rows = await _rows(session_factory)
    statuses = [r.status for r in rows]
    assert MessageStatus.SENDING not in statuses
    sent = statuses.count(MessageStatus.SENT)
    assert sent == len(gateway.requests) >= 1
    assert statuses.count(MessageStatus.QUEUED) == 5 - sent
