"""A call whose text quiet hours deferred keeps the rule: in its row, on its page, in the API.

The real :class:`~asterisk_textback.textback.handler.CallHandler` decides and records the call
(quiet hours "strict", the default) in the dashboard's seeded database.
"""

from __future__ import annotations

import html

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.config import Settings
from asterisk_textback.store.models import Call
from asterisk_textback.textback.handler import CallHandler
from asterisk_textback.textback.loading import prepare
from tests.policy.helpers import call_at, epoch
from tests.web.conftest import API_TOKEN, Client
from tests.web.seed import Seeded

Seed = tuple[async_sessionmaker[AsyncSession], Seeded]
TEXAS = "Texas (Tex. Bus. & Com. Code § 301.051), federal (47 CFR § 64.1200(c)(1))"


async def _record(sessions: async_sessionmaker[AsyncSession], number: str, at: str) -> Call:
    end = epoch(at, "America/Chicago")
    settings = Settings.model_validate({"business": {"timezone": "America/Chicago"}})
    handler = CallHandler(prepare(settings), sessions, on_queued=lambda: None, clock=lambda: end)
    call = call_at(end, caller_number=number, linkedid=f"quiet.{number}.{at}")
    result = await handler.record(call)
    assert result.queued
    async with sessions() as session:
        row = await session.scalar(select(Call).where(Call.linkedid == call.linkedid))
    assert row is not None
    assert row.quiet_rule == result.decision.quiet_rule
    return row


async def test_a_deferred_call_shows_its_rule(logged_in: Client, seeded: Seed) -> None:
    # Houston at 21:30: Texas opens at 09:00 (Tex. Bus. & Com. Code § 301.051).
    row = await _record(seeded[0], "7135550100", "2026-06-10T21:30")
    assert row.quiet_rule == TEXAS
    page = await (await logged_in.get(f"/calls/{row.id}")).text()
    assert f'<dt>Quiet hours</dt><dd class="quiet-rule">{html.escape(TEXAS)}</dd>' in page
    api = await logged_in.get(
        f"/api/v1/calls/{row.id}", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert api.status == 200
    assert (await api.json())["call"]["quiet_rule"] == TEXAS


async def test_a_call_without_a_rule_has_no_line(logged_in: Client, seeded: Seed) -> None:
    page = await (await logged_in.get(f"/calls/{seeded[1].alice_call}")).text()
    assert "Quiet hours" not in page
