"""US legal holidays computed by rule (no table to keep up to date, no dependency).

The federal holidays are those of 5 U.S.C. § 6103(a): New Year's Day (Jan 1), Birthday of
Martin Luther King, Jr. (third Monday of January), Washington's Birthday (third Monday of
February), Memorial Day (last Monday of May), Juneteenth National Independence Day (June 19,
since 2021), Independence Day (July 4), Labor Day (first Monday of September), Columbus Day
(second Monday of October), Veterans Day (Nov 11), Thanksgiving Day (fourth Thursday of
November) and Christmas Day (Dec 25). A fixed-date holiday on a Saturday is observed on the
Friday before and on a Sunday on the Monday after (5 U.S.C. § 6103(b), Executive Order
11582); quiet hours are a courtesy to the recipient, so both the date itself and the
observed day count as holidays here.

Rhode Island adds Victory Day, the second Monday of August (R.I. Gen. Laws § 25-1-1); it is
the only state holiday its texting hours (R.I. Gen. Laws § 5-61-2) add to the federal ones.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta
from typing import Final

#: The first year Juneteenth was a federal holiday (Pub. L. 117-17, June 17, 2021).
JUNETEENTH_SINCE: Final = 2021


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (0 = Monday) of the month; ``n = -1`` for the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    following = date(year + month // 12, month % 12 + 1, 1)
    last = following - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


@functools.lru_cache(maxsize=64)
def us_federal_holidays(year: int) -> dict[date, str]:
    """The federal holidays of ``year`` and their observed days, by date."""
    fixed = {
        date(year, 1, 1): "New Year's Day",
        date(year, 7, 4): "Independence Day",
        date(year, 11, 11): "Veterans Day",
        date(year, 12, 25): "Christmas Day",
    }
    if year >= JUNETEENTH_SINCE:
        fixed[date(year, 6, 19)] = "Juneteenth"
    days: dict[date, str] = {
        nth_weekday(year, 1, 0, 3): "Martin Luther King Jr. Day",
        nth_weekday(year, 2, 0, 3): "Washington's Birthday",
        nth_weekday(year, 5, 0, -1): "Memorial Day",
        nth_weekday(year, 9, 0, 1): "Labor Day",
        nth_weekday(year, 10, 0, 2): "Columbus Day",
        nth_weekday(year, 11, 3, 4): "Thanksgiving Day",
    }
    for day, name in fixed.items():
        days[day] = name
        days.setdefault(_observed(day), f"{name} (observed)")
    # New Year's Day on a Saturday is observed on Dec 31 of the year before.
    next_new_year = date(year + 1, 1, 1)
    if next_new_year.weekday() == 5:
        days[next_new_year - timedelta(days=1)] = "New Year's Day (observed)"
    return days


def us_federal_holiday(day: date) -> str | None:
    """The federal holiday falling (or observed) on ``day``; None on an ordinary day."""
    return us_federal_holidays(day.year).get(day)


def rhode_island_holiday(day: date) -> str | None:
    """A federal holiday, or Rhode Island's Victory Day (second Monday of August)."""
    if day == nth_weekday(day.year, 8, 0, 2):
        return "Victory Day"
    return us_federal_holiday(day)
