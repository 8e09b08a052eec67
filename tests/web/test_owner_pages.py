"""What an owner reads: the headline, grouped KPIs with definitions, local times, plain labels.

A New York business (``business.timezone``), seeded through the store functions, with and
without delivery reports.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from asterisk_textback.calls.model import Outcome
from asterisk_textback.kpi.definitions import DEFINITIONS, SECTIONS
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.store.outbox import claim_due
from asterisk_textback.store.results import mark_sent
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.web.dashboard.app import DEPS
from asterisk_textback.web.dashboard.settings import DashboardSettings
from asterisk_textback.web.health import health_reasons
from asterisk_textback.wording.times import people_time, short_time
from tests.web.conftest import NY, Client, business_client
from tests.web.seed import T0, Seeded, add_call


@pytest.fixture
async def ny(
    tmp_path: Path, sqlite_migrated: Path, dash_settings: DashboardSettings
) -> AsyncIterator[tuple[Client, Seeded]]:
    """Logged in to a New York dashboard whose texts were reported delivered."""
    async for pair in business_client(tmp_path, sqlite_migrated, dash_settings, reports=True):
        yield pair


@pytest.fixture
async def no_reports(
    tmp_path: Path, sqlite_migrated: Path, dash_settings: DashboardSettings
) -> AsyncIterator[tuple[Client, Seeded]]:
    """The same data, but no delivery report ever arrived."""
    async for pair in business_client(tmp_path, sqlite_migrated, dash_settings, reports=False):
        yield pair


async def _text(client: Client, path: str) -> str:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return await response.text()


def _card(page: str, key: str) -> str:
    match = re.search(rf'<article class="card kpi" id="kpi-{key}".*?</article>', page, re.S)
    assert match, key
    return match[0]


async def test_headline_sections_and_visible_definitions(ny: tuple[Client, Seeded]) -> None:
    """The headline in words, five sections in order, each card's definition as text."""
    page = await _text(ny[0], "/?period=30d")
    # 4 missed calls (Alice, the XSS caller, anonymous, Carol), 2 texted, 1 reply, 1 booking;
    # the average order value (200) gives the money part.
    assert (
        '<p class="headline" id="headline">4 missed calls, 2 texted, 1 replied, 1 booked'
        " — about $200 recovered</p>"
    ) in page
    positions = [
        page.index(f'<h2 id="group-{title.lower()}">{title}</h2>') for title, _ in SECTIONS
    ]
    assert positions == sorted(positions)
    assert page.index('id="group-money"') < page.index('id="kpi-revenue"')
    for _, keys in SECTIONS:
        for key in keys:
            brief = html.escape(DEFINITIONS[key].brief)
            assert f'<p class="definition">{brief}</p>' in _card(page, key), key
    assert "hover" not in page
    assert "(America/New_York)" in page
    assert "UTC day" not in page
    assert "1 of 2 texts delivered" in _card(page, "reply_rate")
    assert 'id="no-reports"' not in page


async def test_without_reports_rates_use_texts_sent(no_reports: tuple[Client, Seeded]) -> None:
    """No "n/a 1 / 0" nor "0.0%": rates over texts sent, the delivery rate says why, a note."""
    page = await _text(no_reports[0], "/?period=30d")
    reply = _card(page, "reply_rate")
    assert "50.0%" in reply
    assert "1 of 2 texts sent" in reply
    assert "50.0%" in _card(page, "booking_rate")
    delivery = _card(page, "delivery_rate")
    assert '<p class="value words">no delivery reports yet</p>' in delivery
    assert "0.0%" not in delivery
    assert 'id="no-reports"' in page
    assert "public_base_url" in page
    api = await (await no_reports[0].get("/api/v1/kpis?period=30d")).json()
    by_key = {k["key"]: k for k in api["kpis"]}
    assert api["delivery_reports"] is False
    assert by_key["reply_rate"]["denominator_label"] == "texts sent"


async def test_an_empty_period_says_what_will_appear(ny: tuple[Client, Seeded]) -> None:
    """A month without calls: what appears and when, and a revenue axis reading only 0."""
    page = await _text(ny[0], "/?period=2026-01")
    assert "No calls yet in this period: missed calls appear here within a second" in page
    assert "0 missed calls, 0 texted, 0 replied, 0 booked" in page
    assert "Nothing yet in this period" in page
    assert not re.search(r'text-anchor="end">\d+\.\d+</text>', page)  # no 2.50-style ticks


async def test_calls_and_call_page_in_local_time_and_plain_words(
    ny: tuple[Client, Seeded],
) -> None:
    """Times in New York as people write them; outcomes, reasons and decisions in words."""
    client, seeded = ny
    local = people_time(T0, NY)
    assert local == "Mon, Nov 2, 2026, 10:00 AM EST"
    calls = await _text(client, "/calls")
    assert short_time(T0, NY) == "Nov 2, 10:00 AM"
    assert ">Nov 2, 10:00 AM</a>" in calls
    assert "Times in America/New_York." in calls
    assert "+00:00" not in calls
    assert "Missed, left a voicemail" in calls
    assert "nobody picked up" in calls
    assert "Not texted" in calls
    assert "no caller number" in calls
    assert ">missed_no_voicemail<" not in calls  # the raw value stays in the option's value
    assert 'value="missed_no_voicemail"' in calls
    call = await _text(client, f"/calls/{seeded.anonymous_call}")
    assert "Not texted: no caller number" in call
    assert local in call
    alice = await _text(client, f"/calls/{seeded.alice_call}")
    assert "<dt>Text status</dt><dd>delivered</dd>" in alice
    api = await (await client.get("/api/v1/calls")).json()
    assert "missed_voicemail" in {c["outcome"] for c in api["items"]}


async def test_experiments_lists_only_real_tests(ny: tuple[Client, Seeded]) -> None:
    """ "Replies", not "Replys"; the seed's two-variant experiment is a test."""
    page = await _text(ny[0], "/experiments")
    assert "Replys" not in page
    assert "<th>Replies</th>" in page
    assert 'id="exp-opening"' in page
    empty = await _text(ny[0], "/experiments?period=2026-01")
    assert "No A/B test running: add a second variant to a template to start one." in empty


async def test_health_says_why(ny: tuple[Client, Seeded]) -> None:
    """Not healthy: the AMI link's state, the paused sending and the latest error, in words."""
    page = await _text(ny[0], "/health")
    assert "Not healthy" in page
    reasons = re.search(r'<ul class="reasons" id="reasons">(.*?)</ul>', page, re.S)
    assert reasons
    assert "AMI link to the PBX is connecting, not logged in" in reasons[1]
    assert "Sending is paused: auth error" in reasons[1]
    assert "21211 invalid number" in reasons[1]


def test_health_reasons_in_words() -> None:
    """Each failing check in a sentence; an unexplained failure still says where to look."""
    details = {
        "pbxes": {
            "main": {"state": "disconnected", "reconnects": 5, "since": T0.timestamp()},
            "branch": {"state": "ready"},
        },
        "sending_paused": None,
        "record_backlog": 0,
    }
    reasons = health_reasons(False, details, waiting=120, last_error="timeout", zone=NY)
    assert reasons[0].startswith(
        "AMI link to main is disconnected since Mon, Nov 2, 2026, 10:00 AM EST, not logged in, "
        "5 reconnects so far"
    )
    assert not any("branch" in r for r in reasons)
    assert "120 texts are waiting to be sent (outbox backlog)" in reasons
    assert reasons[-1] == "Latest error: timeout"
    assert health_reasons(True, {"ami": {"state": "ready"}}) == []
    (unexplained,) = health_reasons(False, {}, last_error="boom")
    assert "the latest error was boom" in unexplained


async def test_a_template_with_one_variant_is_not_a_test(ny: tuple[Client, Seeded]) -> None:
    """A text from a single-variant template: named as not a test, with no results table."""
    client, _ = ny
    factory = client.app[DEPS].sessions
    async with unit_of_work(factory) as db:
        await add_call(
            db,
            50,
            Outcome.MISSED_NO_VOICEMAIL,
            "+12125550150",
            "Solo",
            experiment="welcome",
            variant="only",
        )
    (claimed,) = await claim_due(factory, "test", T0 + timedelta(seconds=1), 10)
    async with unit_of_work(factory) as db:
        await mark_sent(db, claimed.id, now=T0, provider="fake", provider_message_id="pm-solo")
    page = await _text(client, "/experiments")
    assert 'id="exp-opening"' in page
    assert 'id="exp-welcome"' not in page
    assert "Sent with one variant only (not a test): welcome." in page


async def test_calculator_without_an_order_value_says_how_to_get_one(
    tmp_path: Path, sqlite_migrated: Path, dash_settings: DashboardSettings
) -> None:
    """No setting and no booking value before the period: the page says what to do."""
    kpi = KpiSettings(average_order_value=None)
    async for client, _ in business_client(tmp_path, sqlite_migrated, dash_settings, kpi=kpi):
        page = await _text(client, "/calculator?period=2026-01")
        assert 'id="no-value"' in page
        assert "[kpi] average_order_value" in page
        valued = await _text(client, "/calculator?period=30d")  # Alice's booking: 150
        assert 'id="no-value"' not in valued
        assert "from the values of past bookings" in valued
