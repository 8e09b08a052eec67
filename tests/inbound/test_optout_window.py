"""The STOP confirmation goes out within five minutes of the STOP, or not at all.

47 CFR 64.1200(a)(12) presumes a one-time opt-out confirmation reasonable when it is sent
within five minutes. Through the real path, on a virtual clock: the inbox stores the STOP
and queues the confirmation, the outbox holds it, the dispatcher sends it to a local HTTP
gateway. A dispatcher that comes back (an outage ends) at 4:59 sends it; at 5:01 it finds
it expired and the gateway never hears of it; a provider that keeps refusing past 5:00 gets
no attempt after it. The confirmation is the ``[consent]`` text and nothing else, whatever
the footer and booking link of the templates; many STOPs in the same millisecond get one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.utc import utc
from asterisk_textback.compliance.carrier_rules import help_misses, stop_misses
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.inbound.inbox import Inbox
from asterisk_textback.inbound.settings import ConsentSettings
from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.sms.base import InboundSms, OutboundSms, Provider, SendResult
from asterisk_textback.sms.settings import ProviderSettings, WebhookSettings
from asterisk_textback.sms.vendors.webhook import WebhookProvider
from asterisk_textback.store.models import Contact, InboundMessage, Message
from tests.app.fakes import FakeGateway, Reply, fake_gateway
from tests.fakeclock import FakeClock
from tests.inbound.helpers import CALLER, DID

Sessions = async_sessionmaker[AsyncSession]
BRAND = "Acme Plumbing"
WINDOW = 300.0
#: One worker's poll plus the housekeeping timer: parked when only time is awaited.
PARKED = 2


class Timed:
    """A provider that notes the virtual time of each send, then sends through ``inner``."""

    def __init__(self, inner: Provider, clock: FakeClock) -> None:
        self.name = inner.name
        self._inner = inner
        self._clock = clock
        self.times: list[float] = []

    async def send(self, sms: OutboundSms) -> SendResult:
        """Note the time, then send."""
        self.times.append(self._clock.time())
        return await self._inner.send(sms)


@asynccontextmanager
async def _dispatching(
    sessions: Sessions, gateway: FakeGateway, clock: FakeClock, **dispatch: Any
) -> AsyncIterator[Timed]:
    """A dispatcher running on ``clock`` (time jumps whenever it only waits for time)."""
    settings = DispatchSettings(workers=1, poll_seconds=1.0, **dispatch)
    hook = WebhookSettings.model_validate({"url": gateway.url, "timeout_seconds": 2.0})
    async with aiohttp.ClientSession() as http:
        provider = Timed(WebhookProvider(hook, http, None), clock)
        dispatcher = Dispatcher(
            sessions,
            provider,
            settings,
            ProviderSettings(rate_per_second=1000.0),
            clock=clock.time,
            sleep=clock.sleep,
        )
        task = asyncio.create_task(dispatcher.run())
        try:
            async with clock.autojump(PARKED):
                yield provider
        finally:
            dispatcher.stop()
            async with clock.autojump(1):
                await task


def _inbox(sessions: Sessions, clock: FakeClock, **kwargs: Any) -> Inbox:
    kwargs.setdefault("business_name", BRAND)
    consent = kwargs.pop("consent", ConsentSettings())
    return Inbox(sessions, consent, clock=clock.time, **kwargs)


def _sms(msg_id: str, body: str = "STOP", at: float | None = None) -> InboundSms:
    return InboundSms("fake", msg_id, CALLER, DID, body, at)


async def _messages(sessions: Sessions, kind: str | None = None) -> list[Message]:
    async with sessions() as session:
        query = select(Message).order_by(Message.id)
        if kind is not None:
            query = query.where(Message.kind == kind)
        return list((await session.scalars(query)).all())


async def _settled(sessions: Sessions, status: MessageStatus) -> Message:
    """The one confirmation once it reached ``status`` (polling the database, not a timer)."""
    async with asyncio.timeout(10):
        while True:
            [row] = await _messages(sessions, "optout_confirm")
            if row.status is status:
                return row
            await asyncio.sleep(0.01)


async def test_the_confirmation_expires_five_minutes_after_the_stop(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    stop_at = fake_clock.now
    await _inbox(session_factory, fake_clock).receive(_sms("s1"))
    [row] = await _messages(session_factory, "optout_confirm")
    assert row.expires_at == utc(stop_at) + timedelta(seconds=WINDOW)
    assert row.send_at == utc(stop_at)


async def test_a_dispatcher_back_at_4_59_sends_it(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    stop_at = fake_clock.now
    await _inbox(session_factory, fake_clock).receive(_sms("s1"))
    fake_clock.advance(WINDOW - 1)  # the dispatcher was down until 4:59
    async with fake_gateway() as gateway, _dispatching(session_factory, gateway, fake_clock) as p:
        row = await _settled(session_factory, MessageStatus.SENT)
    assert p.times == [stop_at + WINDOW - 1]
    [request] = gateway.requests
    assert request["to"] == CALLER
    assert request["body"] == row.body


async def test_a_dispatcher_back_at_5_01_never_sends_it(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    await _inbox(session_factory, fake_clock).receive(_sms("s1"))
    fake_clock.advance(WINDOW + 1)  # down until 5:01
    async with fake_gateway() as gateway, _dispatching(session_factory, gateway, fake_clock) as p:
        row = await _settled(session_factory, MessageStatus.EXPIRED)
    assert p.times == []
    assert gateway.requests == []
    assert row.sending_at is None
    async with session_factory() as session:  # the opt-out itself stands
        contact = await session.get(Contact, CALLER)
    assert contact is not None
    assert contact.opted_out


async def test_a_provider_refusing_past_the_window_gets_no_late_attempt(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    stop_at = fake_clock.now
    await _inbox(session_factory, fake_clock).receive(_sms("s1"))
    async with fake_gateway() as gateway:
        gateway.script = [Reply(503), Reply(503)]  # refused at 0:00 and at 3:20
        async with _dispatching(
            session_factory, gateway, fake_clock, retry_min_seconds=200, retry_max_seconds=600
        ) as provider:
            row = await _settled(session_factory, MessageStatus.EXPIRED)
    # The next try would be at 10:00: expired instead, nothing after 5:00.
    assert provider.times == [stop_at, stop_at + 200]
    assert len(gateway.requests) == 2
    assert row.attempts == 2


async def test_a_stop_reported_late_by_the_provider_counts_from_its_receipt(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    received = fake_clock.now - 400  # the provider's webhook retried for 6:40
    await _inbox(session_factory, fake_clock).receive(_sms("s1", at=received))
    async with fake_gateway() as gateway, _dispatching(session_factory, gateway, fake_clock):
        await _settled(session_factory, MessageStatus.EXPIRED)
    assert gateway.requests == []
    # A provider clock ahead of ours does not stretch the window.
    fake_clock.advance(1)
    await _inbox(session_factory, fake_clock).receive(_sms("s2", "START"))
    await _inbox(session_factory, fake_clock).receive(_sms("s3", at=fake_clock.now + 3600))
    rows = await _messages(session_factory, "optout_confirm")
    assert rows[-1].expires_at == utc(fake_clock.now) + timedelta(seconds=WINDOW)


async def test_no_footer_link_or_marketing_on_the_confirmation(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    settings = settings_from_mapping(
        {
            "business": {"name": BRAND, "booking_link": "https://acme.example/book"},
            "templates": {"footer": "Reply STOP to opt out. Book online: acme.example"},
            "provider": {"default_sender": DID},
        }
    )
    inbox = _inbox(session_factory, fake_clock, consent=settings.consent, policy=settings)
    await inbox.receive(_sms("h1", "HELP"))
    await inbox.receive(_sms("s1", "STOP"))
    async with fake_gateway() as gateway, _dispatching(session_factory, gateway, fake_clock):
        await _settled(session_factory, MessageStatus.SENT)
        async with asyncio.timeout(10):
            while len(gateway.requests) < 2:  # noqa: ASYNC110 - polls the gateway, not a timer
                await asyncio.sleep(0.01)
    sent = {r["body"]: r for r in gateway.requests}
    stop_body = (
        f"{BRAND}: you are unsubscribed and will get no more texts. Reply START to resubscribe."
    )
    assert stop_body in sent
    assert stop_misses(stop_body, BRAND) == []
    for body in sent:
        assert "acme.example" not in body
        assert "Book online" not in body
        assert "\n" not in body  # no footer line
    # With no [consent] contact, the HELP answer gives the number the customer texted.
    [help_body] = [b for b in sent if b != stop_body]
    assert help_body == (
        f"{BRAND}: help at +1 555-010-0001. Msg frequency varies. Msg & data rates may apply. "
        "Reply STOP to opt out."
    )
    assert help_misses(help_body, BRAND) == []


async def test_stops_in_the_same_millisecond_get_one_confirmation(
    session_factory: Sessions, fake_clock: FakeClock
) -> None:
    inbox = _inbox(session_factory, fake_clock)
    bodies = ["STOP", "stop", "Stop please", "UNSUBSCRIBE", "cancel", "END", "quit"] * 4
    await asyncio.gather(*(inbox.receive(_sms(f"s{i}", b)) for i, b in enumerate(bodies)))
    async with session_factory() as session:
        stored = await session.scalar(select(func.count()).select_from(InboundMessage))
    assert stored == len(bodies)
    [confirmation] = await _messages(session_factory, "optout_confirm")
    assert confirmation.status is MessageStatus.QUEUED
    async with fake_gateway() as gateway, _dispatching(session_factory, gateway, fake_clock):
        await _settled(session_factory, MessageStatus.SENT)
    assert [r["to"] for r in gateway.requests] == [CALLER]
    assert len(await _messages(session_factory)) == 1
