"""KPI formulas against a hand-computed fixture, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.bookings.status import BookingStatus
from asterisk_textback.calls.model import Direction, Outcome
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.kpi.definitions import DEFINITIONS
from asterisk_textback.kpi.metrics import compute_kpis
from asterisk_textback.kpi.periods import AVERAGE_MONTH_DAYS, Period, parse_period
from asterisk_textback.kpi.settings import KpiSettings
from tests.kpi.helpers import (
    T0,
    add_booking,
    add_call,
    add_contact,
    add_inbound,
    add_text,
)

NOVEMBER = parse_period("2026-11", now=T0)
SETTINGS = KpiSettings(sms_cost_per_segment=0.01, software_cost_per_month=30.0)


async def _scenario(session: AsyncSession) -> None:
    """Twelve calls; the expected numbers are worked out in the test docstrings."""
    add_call(session, caller="+12125550101", outcome=Outcome.ANSWERED)
    c2 = add_call(session, caller="+12125550102")
    m2 = await add_text(session, c2, delay=0.5)
    await add_text(session, c2, delay=60, kind="forward", delivered=False)
    add_inbound(session, c2, "Hi, I need a quote for a bathroom remodel")
    add_booking(session, c2, 25000)
    c3 = add_call(session, caller="+12125550103", outcome=Outcome.MISSED_VOICEMAIL)
    await add_text(session, c3, delay=2)
    add_inbound(session, c3, "   ok   ")
    c4 = add_call(session, caller="+12125550104")
    await add_text(session, c4, delay=10)
    add_inbound(session, c4, "STOP", InboundKind.STOP)
    c5 = add_call(session, caller="+12125550105")
    await add_text(session, c5, delay=4, delivered=False, segments=2)
    add_call(session, caller=None, suppress_reason="anonymous")
    add_call(session, caller="+12125550107", suppress_reason="fixed_line")
    add_contact(session, "+12125550108", sms_capable=False)
    add_call(session, caller="+12125550108", suppress_reason="cooldown")
    c9 = add_call(session, caller="+12125550109")
    await add_text(session, c9, delay=1)
    add_inbound(session, c9, "short")
    add_booking(session, c9, 10000)
    add_booking(session, c9, 99900, status=BookingStatus.CANCELLED)
    add_call(session, caller="1001", direction=Direction.INTERNAL)
    c11 = add_call(session, caller="+12125550111", did="5550200")
    await add_text(session, c11, delay=3)
    c12 = add_call(session, caller="+12125550112", ended_at=T0 + timedelta(days=30))
    await add_text(session, c12, delay=1)
    assert m2.id is not None
    await session.commit()


async def test_every_kpi_matches_the_hand_computed_values(session: AsyncSession) -> None:
    """10 inbound, 9 missed, 6 capable, 6 sent, 5 delivered, 3 replies, 2 qualified, 2 booked."""
    await _scenario(session)
    report = await compute_kpis(session, NOVEMBER, None, SETTINGS)
    cost = 8 * 0.01 + 30.0 * 30 / AVERAGE_MONTH_DAYS
    expected = {
        "inbound_calls": 10,
        "missed_calls": 9,
        "missed_call_rate": 9 / 10,
        "texts_sent": 6,
        "auto_text_send_rate": 6 / 9,
        "delivery_rate": 5 / 6,
        "time_to_first_response_p50": 2.0,
        "time_to_first_response_p90": 10.0,
        "reply_rate": 3 / 5,
        "qualified_conversation_rate": 2 / 3,
        "booking_rate": 2 / 5,
        "revenue": 350.0,
        "revenue_per_missed_call": 350.0 / 6,
        "cost": cost,
        "cost_per_booking": cost / 2,
        "opt_out_rate": 1 / 5,
        "contactability": 6 / 9,
    }
    assert [k.key for k in report.kpis] == list(expected)
    for key, value in expected.items():
        assert report.value(key) == pytest.approx(value, abs=1e-3), key
    assert report["reply_rate"].numerator == 3
    assert report["reply_rate"].denominator == 5


async def test_did_filter_keeps_only_that_did(session: AsyncSession) -> None:
    """Without the 5550200 call: 9 inbound, 8 missed, 5 sent, 4 delivered."""
    await _scenario(session)
    report = await compute_kpis(session, NOVEMBER, "5550100", SETTINGS)
    assert report.value("inbound_calls") == 9
    assert report.value("missed_calls") == 8
    assert report.value("texts_sent") == 5
    assert report.value("delivery_rate") == pytest.approx(4 / 5)
    assert report.value("reply_rate") == pytest.approx(3 / 4)
    assert report.value("contactability") == pytest.approx(5 / 8)
    assert report.value("time_to_first_response_p90") == pytest.approx(10.0)


async def test_empty_period_gives_none_not_division_errors(session: AsyncSession) -> None:
    """No calls: counts are 0 and every ratio and percentile is None."""
    await _scenario(session)
    empty = Period(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC))
    report = await compute_kpis(session, empty, None, SETTINGS)
    assert report.value("inbound_calls") == 0
    assert report.value("revenue") == 0
    for key in (
        "missed_call_rate",
        "auto_text_send_rate",
        "delivery_rate",
        "time_to_first_response_p50",
        "time_to_first_response_p90",
        "reply_rate",
        "qualified_conversation_rate",
        "booking_rate",
        "revenue_per_missed_call",
        "cost_per_booking",
        "opt_out_rate",
        "contactability",
    ):
        assert report.value(key) is None, key


async def test_empty_database(session: AsyncSession) -> None:
    """A fresh database reports zeros and Nones too."""
    report = await compute_kpis(session, NOVEMBER)
    assert report.value("missed_calls") == 0
    assert report.value("missed_call_rate") is None


def test_every_kpi_has_a_definition_and_json_shape() -> None:
    """Each KPI carries its label, unit and definition text (for hover help)."""
    assert len(DEFINITIONS) == 18
    for key, definition in DEFINITIONS.items():
        assert definition.label, key
        assert definition.text, key
    seed_terms = {
        "missed_call_rate": "missed / inbound calls",
        "auto_text_send_rate": "texts sent / missed calls",
        "delivery_rate": "delivered / sent",
        "reply_rate": "replies / delivered",
        "qualified_conversation_rate": "qualified / replies",
        "booking_rate": "bookings / delivered",
        "revenue_per_missed_call": "revenue from these leads / texts sent",
        "cost_per_booking": "(SMS + software + labour) / bookings",
        "opt_out_rate": "STOPs / delivered",
        "contactability": "SMS-capable missed calls / all missed calls",
        "ab_lift": "metric change vs control",
    }
    for key, formula in seed_terms.items():
        assert formula in DEFINITIONS[key].text, key


async def test_report_as_dict_is_json_ready(session: AsyncSession) -> None:
    """The report serialises with its period and each KPI's definition."""
    await _scenario(session)
    data = (await compute_kpis(session, NOVEMBER, None, SETTINGS)).as_dict()
    assert data["period"]["start"] == "2026-11-01T00:00:00+00:00"
    first = data["kpis"][0]
    assert set(first) == {
        "key",
        "label",
        "unit",
        "value",
        "numerator",
        "denominator",
        "denominator_label",
        "note",
        "definition",
    }
