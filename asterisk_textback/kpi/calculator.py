"""The seed's "missed call revenue calculator", filled from the business's real history.

revenue left on the table = missed calls x close rate x average order value, shown for the
chosen close rate and the benchmark band (20-35% by default). The average order value comes
from the settings, else from the values of the bookings recorded so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.kpi.metrics import minor_exponent
from asterisk_textback.kpi.periods import Period
from asterisk_textback.kpi.settings import DEFAULT_CLOSE_BAND, KpiSettings
from asterisk_textback.store import kpi_queries

__all__ = [
    "BOOKING_DIGITS",
    "CalculatorResult",
    "Estimate",
    "average_booking_value",
    "calculator_from_history",
    "revenue_left_on_table",
]


@dataclass(frozen=True, slots=True)
class Estimate:
    """Bookings and revenue for one close rate."""

    close_rate: float
    bookings: float
    revenue: float | None


@dataclass(frozen=True, slots=True)
class CalculatorResult:
    """The calculator's inputs and its point estimate and band."""

    missed_calls: int
    average_order_value: float | None
    #: Where the average order value came from: "settings", "bookings" or "unknown".
    value_source: str
    point: Estimate
    low: Estimate
    high: Estimate

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "missed_calls": self.missed_calls,
            "average_order_value": self.average_order_value,
            "value_source": self.value_source,
            "point": _estimate_dict(self.point),
            "low": _estimate_dict(self.low),
            "high": _estimate_dict(self.high),
        }


def _estimate_dict(estimate: Estimate) -> dict[str, float | None]:
    return {
        "close_rate": estimate.close_rate,
        "bookings": estimate.bookings,
        "revenue": estimate.revenue,
    }


#: Estimated bookings are shown to two decimals (``3.85``, never ``3.8499999999999996``).
BOOKING_DIGITS = 2


def _estimate(missed: int, rate: float, value: float | None, digits: int) -> Estimate:
    bookings = missed * rate
    revenue = None if value is None else round(bookings * value, digits)
    return Estimate(rate, round(bookings, BOOKING_DIGITS), revenue)


def revenue_left_on_table(
    missed_calls: int,
    average_order_value: float | None,
    close_rate: float = 0.25,
    band: tuple[float, float] = DEFAULT_CLOSE_BAND,
    value_source: str = "settings",
    currency: str = "USD",
) -> CalculatorResult:
    """missed calls x close rate x average order value, at ``close_rate`` and the band.

    Revenue is rounded to the currency's minor unit (cents; whole yen), bookings to 0.01.
    """
    if missed_calls < 0:
        raise ValueError("missed_calls must not be negative")
    low, high = band
    if not 0 <= low <= high <= 1 or not 0 <= close_rate <= 1:
        raise ValueError("close rates must lie in [0, 1] with band low <= high")
    if average_order_value is not None and average_order_value < 0:
        raise ValueError("average_order_value must not be negative")
    digits = minor_exponent(currency)
    return CalculatorResult(
        missed_calls=missed_calls,
        average_order_value=average_order_value,
        value_source=value_source if average_order_value is not None else "unknown",
        point=_estimate(missed_calls, close_rate, average_order_value, digits),
        low=_estimate(missed_calls, low, average_order_value, digits),
        high=_estimate(missed_calls, high, average_order_value, digits),
    )


async def average_booking_value(
    session: AsyncSession, currency: str, until: Period | None = None
) -> float | None:
    """Mean value of the standing bookings in ``currency`` (booked before the period's end)."""
    mean = await kpi_queries.average_booking_value_minor(session, currency, until)
    digits = minor_exponent(currency)
    return None if mean is None else round(mean / 10**digits, digits)


async def calculator_from_history(
    session: AsyncSession,
    period: Period,
    did: str | None = None,
    settings: KpiSettings | None = None,
) -> CalculatorResult:
    """The calculator for the period's missed calls (value: settings, else past bookings)."""
    settings = settings or KpiSettings()
    missed = await kpi_queries.missed_calls(session, period, did)
    value, source = settings.average_order_value, "settings"
    if value is None:
        value, source = await average_booking_value(session, settings.currency, period), "bookings"
    return revenue_left_on_table(
        missed, value, settings.close_rate, settings.close_rate_band, source, settings.currency
    )
