"""Period parsing: keywords, months, days, ranges and the business's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from asterisk_textback.kpi.periods import Period, parse_period

NOW = datetime(2026, 11, 27, 5, 40, tzinfo=UTC)


def test_keywords_months_days_and_ranges() -> None:
    """Each form gives the half-open interval it names."""
    day = datetime(2026, 11, 27, tzinfo=UTC)
    assert parse_period("today", NOW) == Period(day, day + timedelta(days=1))
    assert parse_period("yesterday", NOW) == Period(day - timedelta(days=1), day)
    assert parse_period("30d", NOW) == Period(NOW - timedelta(days=30), NOW)
    december = parse_period("2026-12", NOW)
    assert (december.start.month, december.end.year, december.end.month) == (12, 2027, 1)
    assert parse_period("2026-11-01..2026-12-01", NOW).days == 30
    assert parse_period("2026-11-27", NOW) == Period(day, day + timedelta(days=1))
    assert parse_period("2026-11", NOW).months == pytest.approx(30 / (365.2425 / 12))


def test_local_midnights() -> None:
    """Dates are local midnights in the business's zone."""
    period = parse_period("2026-11-27", NOW, ZoneInfo("America/New_York"))
    assert period.start == datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    assert "2026-11-27T05:00:00+00:00" in period.label()


@pytest.mark.parametrize(
    ("text", "message"),
    [("2026-13", "month"), ("soon", "not a date"), ("2026-12-01..2026-11-01", "after")],
)
def test_bad_periods(text: str, message: str) -> None:
    """Unknown forms and empty intervals are refused."""
    with pytest.raises(ValueError, match=message):
        parse_period(text, NOW)


def test_naive_bounds_are_refused() -> None:
    """Periods are timezone-aware."""
    with pytest.raises(ValueError, match="aware"):
        Period(datetime(2026, 1, 1), datetime(2026, 2, 1))
