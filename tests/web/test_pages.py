"""Each page's content against the seeded database."""

from __future__ import annotations

import html

from asterisk_textback.kpi.definitions import DEFINITIONS
from tests.web.conftest import Client
from tests.web.seed import XSS_NAME, Seeded


async def _page(client: Client, path: str) -> str:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return await response.text()


async def test_overview_cards_definitions_and_charts(logged_in: Client) -> None:
    """Every DESIGN §8 KPI has a card whose title is its definition; five SVG charts."""
    text = await _page(logged_in, "/?period=30d")
    for key, definition in DEFINITIONS.items():
        assert f'id="kpi-{key}" title="{html.escape(definition.text)}"' in text, key
    assert 'id="kpi-missed_call_rate"' in text
    assert "33.3%" in text
    assert "150.00 USD" in text  # Alice's booking
    assert text.count("<svg") == 5
    assert "<polyline" in text


async def test_overview_by_did_and_bad_period(logged_in: Client) -> None:
    """A DID narrows the cohort; a bad period is a 400 naming it."""
    text = await _page(logged_in, "/?period=2026-11&did=5550199")
    assert "100.0%" in text  # the one call to that DID was missed
    bad = await logged_in.get("/?period=someday")
    assert bad.status == 400
    assert "period" in await bad.text()


async def test_calls_list_filters_and_escaping(
    logged_in: Client, seeded: tuple[object, Seeded]
) -> None:
    """Outcome, reason, decision and why, template/variant, status, first response."""
    text = await _page(logged_in, "/calls")
    assert html.escape(XSS_NAME) in text
    assert XSS_NAME not in text
    assert "missed_voicemail" in text
    assert "suppress" in text
    assert "anonymous" in text
    assert "missed / control" in text
    assert "delivered" in text
    assert "1.5 s" in text
    assert "failed" in text
    missed = await _page(logged_in, "/calls?outcome=missed_voicemail")
    assert "Alice Example" in missed
    assert "Bob Answered" not in missed
    found = await _page(logged_in, "/calls?q=carol")
    assert "Carol Fail" in found
    assert "Alice" not in found
    by_number = await _page(logged_in, "/calls?q=5550103&decision=suppress")
    assert "Bob Answered" in by_number
    assert "Carol" not in by_number
    dated = await _page(logged_in, "/calls?from=2026-11-02&to=2026-11-02")
    assert "Extra 0" not in dated
    assert "Alice" in dated
    assert (await logged_in.get("/calls?outcome=nope")).status == 400


async def test_calls_paginate(logged_in: Client, seeded: tuple[object, Seeded]) -> None:
    """A Next link appears when there are more rows than a page (50 here: one page)."""
    text = await _page(logged_in, "/calls")
    assert text.count("<tr>") == seeded[1].total_calls + 1  # header row
    assert 'rel="next"' not in text


async def test_call_detail(logged_in: Client, seeded: tuple[object, Seeded]) -> None:
    """A call shows its decision, thread and booking."""
    text = await _page(logged_in, f"/calls/{seeded[1].alice_call}")
    assert "Yes please call me back tomorrow morning" in text
    assert "Booked</dt><dd>yes" in text
    assert "not opted out" in text
    assert (await logged_in.get("/calls/999999")).status == 404


async def test_conversations(logged_in: Client) -> None:
    """Callers we texted, opt-out state, and one thread in order."""
    text = await _page(logged_in, "/conversations")
    assert "+12125550101" in text
    assert "+12125550102" in text
    assert "opted out" in text
    thread = await _page(logged_in, "/conversations/+12125550102")
    assert thread.index("Sorry we missed your call") < thread.index("STOP")
    assert "opted out</strong> since" in thread


async def test_experiments(logged_in: Client) -> None:
    """Variants with sample sizes, not enough data yet, and the 2x2 view from labels."""
    text = await _page(logged_in, "/experiments")
    assert "opening" in text
    assert "Not enough data yet" in text
    assert "(control)" in text
    assert "on_a_job" in text
    assert "Hook × CTA" in text
    assert "95% CI" in text
    assert "p-value" in text


async def test_calculator(logged_in: Client) -> None:
    """Missed calls from history x close rate x order value; inputs override."""
    text = await _page(logged_in, "/calculator?period=30d")
    assert 'id="missed" name="missed" type="number" min="0" step="1" value="4"' in text
    assert "200.00 USD" in text  # 4 x 25% x 200
    assert "160.00 USD" in text
    assert "280.00 USD" in text
    moved = await _page(logged_in, "/calculator?period=30d&close_rate=50&aov=100")
    assert "200.00 USD" in moved
    assert 'src="/static/calculator.js"' in moved
    assert (await logged_in.get("/calculator?close_rate=150")).status == 400
    assert (await logged_in.get("/static/calculator.js")).status == 200


async def test_health(logged_in: Client) -> None:
    """AMI and provider state from health(), outbox depth, the last error."""
    text = await _page(logged_in, "/health")
    assert 'id="ami-state">connecting' in text
    assert "paused: auth error" in text
    assert "<th>delivered</th><td>2</td>" in text
    assert "<th>failed</th><td>1</td>" in text
    assert "21211 invalid number" in text
