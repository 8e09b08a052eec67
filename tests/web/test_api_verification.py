"""``GET /api/v1/kpis`` counts calls by caller ID verification and the texts held back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import CallEnded, CallerVerification, Direction, Outcome, Reason
from asterisk_textback.policy.decision import Action, SuppressReason
from asterisk_textback.store.calls import CallDecision, record_calls
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.web.dashboard.api import PREFIX
from tests.web.conftest import API_TOKEN, Client
from tests.web.seed import Seeded

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
ENDED = datetime(2026, 11, 20, 15, 0, tzinfo=UTC).timestamp()


def _call(linkedid: str, verification: CallerVerification | None) -> CallEnded:
    return CallEnded(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        outcome=Outcome.MISSED_NO_VOICEMAIL,
        reason=Reason.NO_ANSWER,
        caller_number="2125550147",
        caller_name="",
        did="5550100",
        queue=None,
        mailbox=None,
        started_at=ENDED - 30,
        ended_at=ENDED,
        ring_seconds=20.0,
        caller_verification=verification,
    )


async def _counts(client: Client) -> dict[str, Any]:
    response = await client.get(f"{PREFIX}/kpis?period=2026-11", headers=AUTH)
    assert response.status == 200, await response.text()
    counts: dict[str, Any] = (await response.json())["caller_verification"]
    return counts


async def test_kpis_count_verification(
    client: Client, seeded: tuple[async_sessionmaker[AsyncSession], Seeded]
) -> None:
    before = await _counts(client)
    assert set(before) == {"passed", "failed", "none", "unreported", "suppressed"}
    held = CallDecision(Action.SUPPRESS, suppress_reason=str(SuppressReason.CALLER_NOT_VERIFIED))
    sent = CallDecision(Action.SEND, template="missed_no_voicemail")
    rows = [
        (_call("v.1", CallerVerification.FAILED), held, None),
        (_call("v.2", CallerVerification.FAILED), held, None),
        (_call("v.3", CallerVerification.PASSED), sent, None),
        (_call("v.4", CallerVerification.NONE), sent, None),
        (_call("v.5", None), sent, None),
    ]
    async with unit_of_work(seeded[0]) as session:
        await record_calls(session, rows, now=datetime.fromtimestamp(ENDED, UTC))
    after = await _counts(client)
    delta = {key: after[key] - before[key] for key in before}
    assert delta == {"passed": 1, "failed": 2, "none": 1, "unreported": 1, "suppressed": 2}


async def test_overview_counts_texts_held_for_unverified_callers(
    logged_in: Client, seeded: tuple[async_sessionmaker[AsyncSession], Seeded]
) -> None:
    """The Overview's Compliance group shows the texts held back for an unverified caller ID."""
    before = await (await logged_in.get("/?period=2026-11")).text()
    card = before.split('id="kpi-unverified_held"', 1)[1].split("</article>", 1)[0]
    assert '<p class="value">0</p>' in card
    factory, _ = seeded
    held = CallDecision(Action.SUPPRESS, suppress_reason=str(SuppressReason.CALLER_NOT_VERIFIED))
    sent = CallDecision(Action.SEND, template="missed_no_voicemail")
    rows = [
        (_call("h.1", CallerVerification.FAILED), held, None),
        (_call("h.2", CallerVerification.FAILED), held, None),
        (_call("h.3", CallerVerification.PASSED), sent, None),
    ]
    async with unit_of_work(factory) as db:
        await record_calls(db, rows, now=datetime(2026, 11, 20, 15, 1, tzinfo=UTC))
    after = await (await logged_in.get("/?period=2026-11")).text()
    card = after.split('id="kpi-unverified_held"', 1)[1].split("</article>", 1)[0]
    assert '<p class="value">2</p>' in card
    october = await (await logged_in.get("/?period=2026-10")).text()
    card = october.split('id="kpi-unverified_held"', 1)[1].split("</article>", 1)[0]
    assert '<p class="value">0</p>' in card
