"""Rates without delivery reports, and the Overview's headline in words."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.kpi.headline import headline, money_words
from asterisk_textback.kpi.metrics import NO_COSTS, NO_REPORTS, compute_kpis
from asterisk_textback.kpi.periods import parse_period, period_words
from asterisk_textback.kpi.settings import KpiSettings
from tests.kpi.helpers import T0, add_booking, add_call, add_inbound, add_text

NOVEMBER = parse_period("2026-11", now=T0)


async def _texted(session: AsyncSession, n: int, *, delivered: bool) -> list[int]:
    ids = []
    for k in range(n):
        call = add_call(session, caller=f"+1212555{k:04d}")
        await add_text(session, call, delivered=delivered)
        ids.append(call.id)
        if k < 3:
            add_inbound(session, call, "Yes please call me back this afternoon")
        if k < 2:
            add_booking(session, call, 15000)
    add_call(session, caller=None, suppress_reason="anonymous")
    await session.commit()
    return ids


async def test_without_reports_rates_are_over_texts_sent(session: AsyncSession) -> None:
    """6 sent, none reported delivered: 3 of 6 replied, 2 of 6 booked, delivery unknown."""
    await _texted(session, 6, delivered=False)
    report = await compute_kpis(session, NOVEMBER)
    assert report.delivery_reports is False
    reply = report["reply_rate"]
    assert reply.value == pytest.approx(3 / 6)
    assert (reply.numerator, reply.denominator, reply.over) == (3, 6, "texts sent")
    assert report.value("booking_rate") == pytest.approx(2 / 6)
    assert report["opt_out_rate"].over == "texts sent"
    delivery = report["delivery_rate"]
    assert delivery.value is None
    assert delivery.note == NO_REPORTS
    assert report.as_dict()["delivery_reports"] is False


async def test_with_reports_rates_stay_over_texts_delivered(session: AsyncSession) -> None:
    """Reports arrived: the seed's formulas, over texts delivered, no note."""
    await _texted(session, 5, delivered=True)
    report = await compute_kpis(session, NOVEMBER)
    assert report.delivery_reports is True
    assert report["reply_rate"].over == "texts delivered"
    assert report.value("delivery_rate") == pytest.approx(1.0)
    assert report["delivery_rate"].note is None


async def test_headline_in_words(session: AsyncSession) -> None:
    """Missed, texted, replied, booked; money only with an average order value."""
    await _texted(session, 6, delivered=False)
    report = await compute_kpis(session, NOVEMBER)
    assert headline(report, None) == "7 missed calls, 6 texted, 3 replied, 2 booked"
    assert headline(report, 1087.5) == (
        "7 missed calls, 6 texted, 3 replied, 2 booked — about $2,175 recovered"
    )


def test_money_words() -> None:
    """A symbol for the common currencies, the code after the amount for the others."""
    assert money_words(2174.6, "usd") == "$2,175"
    assert money_words(12, "CHF") == "12 CHF"


def test_period_words_in_the_business_zone() -> None:
    """Whole local days read as days (the end excluded); other periods as two local times."""
    ny = ZoneInfo("America/New_York")
    now = datetime(2026, 12, 6, 21, 30, tzinfo=UTC)
    month = parse_period("2026-11", now, ny)
    assert period_words(month, ny) == "Sun, Nov 1, 2026 to Mon, Nov 30, 2026"
    assert period_words(parse_period("2026-11-27", now, ny), ny) == "Fri, Nov 27, 2026"
    assert period_words(parse_period("30d", now, ny), ny) == (
        "Fri, Nov 6, 2026, 4:30 PM EST to Sun, Dec 6, 2026, 4:30 PM EST"
    )


async def test_cost_says_when_no_cost_is_set(session: AsyncSession) -> None:
    """0.00 with no cost settings is "not set", not "free"; with one set, no note."""
    await _texted(session, 2, delivered=True)
    bare = await compute_kpis(session, NOVEMBER)
    assert bare.value("cost") == 0
    assert bare["cost"].note == NO_COSTS
    priced = await compute_kpis(session, NOVEMBER, None, KpiSettings(sms_cost_per_segment=0.01))
    assert priced.value("cost") == pytest.approx(0.02)
    assert priced["cost"].note is None
