"""The missed call revenue calculator: the pure formula and the history-filled version."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.bookings.status import BookingStatus
from asterisk_textback.calls.model import Outcome
from asterisk_textback.kpi.calculator import (
    average_booking_value,
    calculator_from_history,
    revenue_left_on_table,
)
from asterisk_textback.kpi.periods import parse_period
from asterisk_textback.kpi.settings import KpiSettings
from tests.kpi.helpers import T0, add_booking, add_call

NOVEMBER = parse_period("2026-11", now=T0)


def test_seed_example() -> None:
    """15 missed calls x 25% x 100 = 375 (the seed's "You missed 375"), band 20-35%."""
    result = revenue_left_on_table(15, 100.0)
    assert result.point.revenue == pytest.approx(375.0)
    assert result.point.bookings == pytest.approx(3.75)
    assert (result.low.close_rate, result.low.revenue) == (0.20, pytest.approx(300.0))
    assert (result.high.close_rate, result.high.revenue) == (0.35, pytest.approx(525.0))
    assert result.value_source == "settings"


def test_unknown_value_and_bad_inputs() -> None:
    """Without an order value the revenue is None; nonsense inputs are refused."""
    result = revenue_left_on_table(10, None)
    assert result.point.revenue is None
    assert result.point.bookings == pytest.approx(2.5)
    assert result.value_source == "unknown"
    assert result.as_dict()["high"]["bookings"] == pytest.approx(3.5)
    assert revenue_left_on_table(0, 50.0).point.revenue == 0
    with pytest.raises(ValueError, match="negative"):
        revenue_left_on_table(-1, 10.0)
    with pytest.raises(ValueError, match="close rates"):
        revenue_left_on_table(1, 10.0, close_rate=1.5)
    with pytest.raises(ValueError, match="close rates"):
        revenue_left_on_table(1, 10.0, band=(0.4, 0.2))
    with pytest.raises(ValueError, match="order_value"):
        revenue_left_on_table(1, -10.0)


async def test_from_history_uses_bookings_when_no_value_is_set(session: AsyncSession) -> None:
    """4 missed calls; booked values 100 and 300 (cancelled and other currency ignored)."""
    calls = [add_call(session) for _ in range(4)]
    add_call(session, outcome=Outcome.ANSWERED)
    add_call(session, ended_at=T0 - timedelta(days=40))
    await session.flush()
    add_booking(session, calls[0], 10000)
    add_booking(session, calls[1], 30000, currency=None)
    add_booking(session, calls[2], 99999, status=BookingStatus.CANCELLED)
    add_booking(session, calls[3], 77777, currency="EUR")
    add_booking(session, None, 50000, booked_at=T0 + timedelta(days=60))
    await session.commit()
    result = await calculator_from_history(session, NOVEMBER)
    assert result.missed_calls == 4
    assert (result.average_order_value, result.value_source) == (200.0, "bookings")
    assert result.point.revenue == pytest.approx(200.0)
    fixed = await calculator_from_history(
        session, NOVEMBER, settings=KpiSettings(average_order_value=50.0, close_rate=0.3)
    )
    assert (fixed.value_source, fixed.point.revenue) == ("settings", pytest.approx(60.0))
    # A booking without a currency is taken to be in the one asked for.
    assert await average_booking_value(session, "EUR") == pytest.approx(
        (777.77 + 300.0) / 2, abs=0.01
    )
    assert await average_booking_value(session, "GBP") == pytest.approx(300.0)
