"""A missed call at 21:30 on the caller's clock is texted when their window opens, no sooner.

Through the real send path: the policy decides and the template renders
(:func:`~asterisk_textback.textback.drafting.decide_and_render`), the row goes into a real
database's outbox, and the real dispatcher sends it through a local HTTP gateway, all on a
:class:`~tests.fakeclock.FakeClock` started at the call's end: the night passes in virtual
time, and the send time is asserted to the second.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.config import Settings
from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy import NO_HISTORY, window_opens
from asterisk_textback.sms.settings import ProviderSettings, WebhookSettings
from asterisk_textback.sms.vendors.webhook import WebhookProvider
from asterisk_textback.store import outbox
from asterisk_textback.store.models import Message
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.textback.drafting import decide_and_render
from asterisk_textback.textback.loading import prepare
from tests.app.fakes import Reply, fake_gateway
from tests.app.test_dispatcher import Timed
from tests.fakeclock import FakeClock
from tests.policy.helpers import call_at, epoch, local

Sessions = async_sessionmaker[AsyncSession]
#: Polls every 10 minutes: the night passes in a few dozen virtual steps.
SLOW_POLL = DispatchSettings(workers=1, poll_seconds=600.0, expire_every_seconds=3600.0)


@pytest.mark.parametrize(
    ("number", "zone", "opens"),
    [
        # New York: the federal window opens at 08:00.
        ("2125550147", "America/New_York", "2026-06-11T08:00"),
        # Houston: Texas opens at 09:00 (Tex. Bus. & Com. Code § 301.051).
        ("7135550100", "America/Chicago", "2026-06-11T09:00"),
    ],
)
async def test_a_call_at_half_past_nine_is_texted_when_the_window_opens(
    session_factory: Sessions, number: str, zone: str, opens: str
) -> None:
    end = epoch("2026-06-10T21:30", zone)
    settings = Settings.model_validate({"business": {"timezone": "America/New_York"}})
    drafted = await decide_and_render(
        call_at(end, caller_number=number),
        NO_HISTORY,
        settings,
        prepare(settings),
        now=end,
        tracking_secret="quiet-test",
    )
    assert drafted.decision.deferred
    assert drafted.message is not None
    message = replace(drafted.message, sender="+15555550100")
    async with unit_of_work(session_factory) as session:
        await outbox.enqueue(
            session, message, key="call:quiet", now=datetime.fromtimestamp(end, UTC)
        )

    clock = FakeClock(start=end)
    async with fake_gateway() as gateway, aiohttp.ClientSession() as http:
        hook = WebhookSettings.model_validate({"url": gateway.url})
        provider = Timed(WebhookProvider(hook, http, None), clock)
        dispatcher = Dispatcher(
            session_factory,
            provider,
            SLOW_POLL,
            ProviderSettings(rate_per_second=10.0),
            clock=clock.time,
            sleep=clock.sleep,
        )
        task = asyncio.create_task(dispatcher.run())
        async with clock.autojump(2):
            async with asyncio.timeout(30):
                while True:
                    if await _status(session_factory) is MessageStatus.SENT:
                        break
                    await asyncio.sleep(0.01)  # a poll of the database, not a timer
            dispatcher.stop()
            await task

    sent_at = provider.times
    assert local(sent_at[0], zone) == opens
    assert sent_at[0] == epoch(opens, zone)
    assert [r["to"] for r in gateway.requests] == [f"+1{number}"]
    async with session_factory() as session:
        row = (await session.scalars(select(Message))).one()
    assert row.status is MessageStatus.SENT
    # Held all night, yet still within max_age: it counts from the window's opening.
    assert row.expires_at is not None
    assert row.expires_at.replace(tzinfo=UTC).timestamp() == epoch(opens, zone) + 3600


async def _status(sessions: Sessions) -> MessageStatus:
    async with sessions() as session:
        return (await session.scalars(select(Message.status))).one()


@pytest.mark.parametrize("window", [True, False])
async def test_a_retry_never_lands_in_quiet_hours(session_factory: Sessions, window: bool) -> None:
    """Sent at 20:59:50 and refused (503): the retry waits for 08:00, not 21:00:00.

    Without the window (``window=False``, the dispatcher as it was) the retry goes out five
    seconds later, at 20:59:55 + backoff, inside quiet hours: the test can fail.
    """
    zone = "America/New_York"
    due = epoch("2026-06-10T20:59:50", zone)
    settings = Settings.model_validate({"business": {"timezone": zone}})
    message = outbox.NewMessage(
        to_e164="+12125550147",
        sender="+15555550100",
        body="Sorry we missed your call.",
        segments=1,
        encoding="gsm7",
        send_at=datetime.fromtimestamp(due, UTC),
        template="missed",
        variant=None,
        experiment=None,
        expires_at=datetime.fromtimestamp(due + 86400, UTC),
    )
    async with unit_of_work(session_factory) as session:
        await outbox.enqueue(session, message, key="call:retry", now=message.send_at)

    clock = FakeClock(start=due)
    retry = DispatchSettings(
        workers=1, poll_seconds=60.0, expire_every_seconds=3600.0, retry_min_seconds=8.0
    )
    async with fake_gateway() as gateway, aiohttp.ClientSession() as http:
        gateway.script.append(Reply(status=503, body={"error": "try later"}))
        hook = WebhookSettings.model_validate({"url": gateway.url})
        provider = Timed(WebhookProvider(hook, http, None), clock)
        dispatcher = Dispatcher(
            session_factory,
            provider,
            retry,
            ProviderSettings(rate_per_second=10.0),
            clock=clock.time,
            sleep=clock.sleep,
            window=partial(window_opens, config=settings) if window else None,
        )
        task = asyncio.create_task(dispatcher.run())
        async with clock.autojump(2):
            async with asyncio.timeout(30):
                while True:
                    if await _status(session_factory) is MessageStatus.SENT:
                        break
                    await asyncio.sleep(0.01)  # a poll of the database, not a timer
            dispatcher.stop()
            await task

    assert len(gateway.requests) == 2
    first, second = provider.times
    assert local(first, zone) == "2026-06-10T20:59"
    if window:
        # The retry (due 20:59:58) was claimed at the next poll, after 21:00: held to 08:00,
        # and sent at the first poll from then.
        opens = epoch("2026-06-11T08:00", zone)
        assert opens <= second < opens + retry.poll_seconds
    else:
        assert local(second, zone) == "2026-06-10T21:00"  # the bug this guards against


async def test_a_dispatcher_back_after_nine_holds_text_backs_not_staff_replies(
    session_factory: Sessions,
) -> None:
    """Due at 20:55, the dispatcher starts at 22:00: the text-back waits for 08:00.

    A staff reply queued with it is not a text-back (an answer in a live conversation):
    it leaves at once.
    """
    zone = "America/New_York"
    due = epoch("2026-06-10T20:55", zone)
    back = epoch("2026-06-10T22:00", zone)
    settings = Settings.model_validate({"business": {"timezone": zone}})

    def text(kind: str) -> outbox.NewMessage:
        return outbox.NewMessage(
            to_e164="+12125550147",
            sender="+15555550100",
            body=f"{kind} body",
            segments=1,
            encoding="gsm7",
            send_at=datetime.fromtimestamp(due, UTC),
            kind=kind,
            expires_at=datetime.fromtimestamp(due + 86400, UTC),
        )

    async with unit_of_work(session_factory) as session:
        at = datetime.fromtimestamp(due, UTC)
        await outbox.enqueue(session, text("textback"), key="call:late", now=at)
        await outbox.enqueue(session, text("staff_reply"), key="staff:late", now=at)

    clock = FakeClock(start=back)
    async with fake_gateway() as gateway, aiohttp.ClientSession() as http:
        hook = WebhookSettings.model_validate({"url": gateway.url})
        provider = Timed(WebhookProvider(hook, http, None), clock)
        dispatcher = Dispatcher(
            session_factory,
            provider,
            SLOW_POLL,
            ProviderSettings(rate_per_second=10.0),
            clock=clock.time,
            sleep=clock.sleep,
            window=partial(window_opens, config=settings),
        )
        task = asyncio.create_task(dispatcher.run())
        async with clock.autojump(2):
            async with asyncio.timeout(30):
                while True:
                    if len(gateway.requests) == 2:
                        break
                    await asyncio.sleep(0.01)  # a poll of the gateway, not a timer
            dispatcher.stop()
            await task

    sent = dict(zip([r["body"] for r in gateway.requests], provider.times, strict=True))
    assert local(sent["staff_reply body"], zone) == "2026-06-10T22:00"
    assert sent["textback body"] == epoch("2026-06-11T08:00", zone)
