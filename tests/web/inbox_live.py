"""A seeded dashboard wired like ``run``'s: a real dispatcher sending to a fake Twilio API.

The dashboard's ``on_queued`` wakes the dispatcher, as in the service; the dispatcher runs on
the real clock and sends over HTTP to :mod:`tests.sms.fake_twilio`, which records each form.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.sms.vendors.twilio import TwilioProvider, TwilioSettings
from asterisk_textback.store.models import Message
from asterisk_textback.store.uow import reading
from asterisk_textback.web.dashboard.mount import dashboard_app
from asterisk_textback.web.dashboard.settings import DashboardSettings
from tests.sms.fake_twilio import FakeTwilio, fake_twilio
from tests.web.conftest import Client, make_deps

SID = "AC" + "0" * 32
TOKEN = "fake-twilio-token"
FAST = DispatchSettings(workers=1, batch_size=10, poll_seconds=0.2)


@dataclass(frozen=True, slots=True)
class Live:
    """The dashboard client, the fake provider and the database."""

    client: Client
    twilio: FakeTwilio
    sessions: async_sessionmaker[AsyncSession]

    async def staff_rows(self) -> list[Message]:
        """The staff replies in the outbox, oldest first."""
        async with reading(self.sessions) as db:
            rows = await db.scalars(
                select(Message).where(Message.kind == "staff_reply").order_by(Message.id)
            )
            return list(rows)

    async def sent_to_provider(self, count: int, seconds: float = 10.0) -> list[dict[str, str]]:
        """Wait until the fake provider has ``count`` texts; their forms."""
        async with asyncio.timeout(seconds):
            while True:
                if len(self.twilio.forms) >= count:
                    return list(self.twilio.forms)
                await asyncio.sleep(0.02)  # a poll of the fake's record, not a timer

    async def recorded_sent(self, seconds: float = 5.0) -> list[Message]:
        """Wait until every staff reply has its provider answer recorded; the rows."""
        async with asyncio.timeout(seconds):
            while True:
                rows = await self.staff_rows()
                if rows and all(r.sent_at is not None for r in rows):
                    return rows
                await asyncio.sleep(0.02)  # a poll of the database, not a timer


@asynccontextmanager
async def live_dashboard(
    sessions: async_sessionmaker[AsyncSession], settings: DashboardSettings
) -> AsyncIterator[Live]:
    """Serve the dashboard with a running dispatcher behind it."""
    async with fake_twilio(SID, TOKEN) as twilio, aiohttp.ClientSession() as http:
        provider_settings = TwilioSettings.model_validate(
            {"account_sid": SID, "api_base_url": twilio.url, "timeout_seconds": 2.0}
        )
        dispatcher = Dispatcher(
            sessions,
            TwilioProvider(provider_settings, http, TOKEN),
            FAST,
            ProviderSettings(rate_per_second=100.0),
            worker_prefix="inbox-test",
        )
        task = asyncio.create_task(dispatcher.run())
        deps = replace(make_deps(sessions, settings), on_queued=dispatcher.wake)
        try:
            async with TestClient(TestServer(dashboard_app(deps), host="127.0.0.1")) as client:
                yield Live(client, twilio, sessions)
        finally:
            dispatcher.stop()
            await task
