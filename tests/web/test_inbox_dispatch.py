"""A staff reply leaves through the provider: queued by the page, sent by the dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.web.dashboard.settings import DashboardSettings
from tests.web.conftest import API_TOKEN, csrf_of, login
from tests.web.inbox_live import Live, live_dashboard
from tests.web.seed import OUR_NUMBER, Seeded

Seed = tuple[async_sessionmaker[AsyncSession], Seeded]
ALICE = "+12125550101"


@pytest.fixture
async def live(seeded: Seed, dash_settings: DashboardSettings) -> AsyncIterator[Live]:
    """The seeded dashboard with a dispatcher and a fake Twilio behind it."""
    async with live_dashboard(seeded[0], dash_settings) as running:
        yield running


async def test_the_page_s_reply_reaches_the_provider_from_the_number_they_texted(
    live: Live,
) -> None:
    client = live.client
    assert await login(client) == 303
    page = await (await client.get(f"/conversations/{ALICE}")).text()
    assert "waits in the outbox" not in page  # the dispatcher is running here
    form = {"csrf": csrf_of(page), "nonce": "page-nonce-1", "body": "We'll be there at 3 €"}
    posted = await client.post(f"/conversations/{ALICE}/reply", data=form, allow_redirects=False)
    assert posted.status == 303
    (sent,) = await live.sent_to_provider(1)
    assert (sent["To"], sent["From"], sent["Body"]) == (ALICE, OUR_NUMBER, "We'll be there at 3 €")
    (row,) = await live.recorded_sent()
    assert (row.status, row.provider, row.sent_by) == (MessageStatus.SENT, "twilio", "admin")
    assert row.provider_message_id is not None
    assert row.provider_message_id.startswith("SM")
    shown = await (await client.get(f"/conversations/{ALICE}/items")).text()
    assert '<span class="delivery delivery-sent">sent</span>' in shown


async def test_the_api_s_reply_reaches_the_provider(live: Live) -> None:
    response = await live.client.post(
        f"/api/v1/conversations/{ALICE}/messages",
        json={"body": "Confirmed for 9am"},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    assert response.status == 202
    (sent,) = await live.sent_to_provider(1)
    assert (sent["To"], sent["From"], sent["Body"]) == (ALICE, OUR_NUMBER, "Confirmed for 9am")
