"""Reporting periods: half-open ``[start, end)`` intervals of aware UTC datetimes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Final

from asterisk_textback.wording.times import local, people_time

__all__ = ["AVERAGE_MONTH_DAYS", "Period", "parse_period", "period_words"]

#: Days in an average Gregorian month, for prorating monthly costs.
AVERAGE_MONTH_DAYS: Final = 365.2425 / 12
_LAST_DAYS = re.compile(r"^(\d{1,4})d$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Period:
    """Calls that ended at or after ``start`` and before ``end``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        """Require aware datetimes and a non-empty interval."""
        for moment in (self.start, self.end):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError("period bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("period end must be after its start")

    @property
    def days(self) -> float:
        """Length in days (fractional)."""
        return (self.end - self.start).total_seconds() / 86400

    @property
    def months(self) -> float:
        """Length in average months, for prorating monthly costs."""
        return self.days / AVERAGE_MONTH_DAYS

    def label(self) -> str:
        """``start .. end`` in ISO format (UTC)."""
        return f"{self.start.astimezone(UTC).isoformat()} .. {self.end.astimezone(UTC).isoformat()}"


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def parse_period(text: str, now: datetime, zone: tzinfo = UTC) -> Period:
    """Parse ``today``, ``yesterday``, ``30d``, ``2026-11``, ``2026-11-27`` or ``A..B``."""
    # Dates are local midnights in ``zone``; ``A..B`` excludes B; ``30d`` ends at ``now``.
    text = text.strip().lower()
    today = now.astimezone(zone).date()
    if text == "today":
        return Period(_midnight(today, zone), _midnight(today + timedelta(days=1), zone))
    if text == "yesterday":
        return Period(_midnight(today - timedelta(days=1), zone), _midnight(today, zone))
    if match := _LAST_DAYS.match(text):
        return Period(now - timedelta(days=int(match[1])), now)
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"{text!r}: month must be 01..12")
        following = date(year + month // 12, month % 12 + 1, 1)
        return Period(_midnight(date(year, month, 1), zone), _midnight(following, zone))
    if ".." in text:
        first, _, last = text.partition("..")
        return Period(_midnight(_day(first), zone), _midnight(_day(last), zone))
    day = _day(text)
    return Period(_midnight(day, zone), _midnight(day + timedelta(days=1), zone))


def _day_words(day: date) -> str:
    return f"{day:%a, %b} {day.day}, {day.year}"


def period_words(period: Period, zone: tzinfo) -> str:
    """The period as an owner reads it, in ``zone``: whole days, or from one time to another.

    ``Sun, Nov 1, 2026 to Mon, Nov 30, 2026`` (the end is exclusive: the last day shown is the
    one before it) when both ends are local midnights, else ``Sat, Oct 3, 2026, 9:15 AM EDT to
    Mon, Nov 2, 2026, 9:15 AM EST``.
    """
    start, end = local(period.start, zone), local(period.end, zone)
    if start.time() == time() and end.time() == time():
        first, last = start.date(), end.date() - timedelta(days=1)
        if first == last:
            return _day_words(first)
        return f"{_day_words(first)} to {_day_words(last)}"
    return f"{people_time(period.start, zone)} to {people_time(period.end, zone)}"
