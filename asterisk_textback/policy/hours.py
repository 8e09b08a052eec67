"""Wall-clock reasoning: open or closed in the business's zone, quiet or not in the caller's.

All arithmetic is done on local wall-clock times obtained from ``zoneinfo``, then converted
back to epoch seconds, so schedules stay right across DST changes: "08:00" is 08:00 on the
day the clocks change too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from asterisk_textback.policy.settings import WEEKDAYS, BusinessSettings, When
from asterisk_textback.policy.timerange import MINUTES_PER_DAY, TimeRange, seconds_of_day

#: How far ahead quiet hours may push a text before we give up on agreeing across zones.
MAX_QUIET_DEFERRAL: Final = 36 * 3600.0
#: Candidate zones further apart than this (continental US: 3 h) say nothing about where
#: the caller is: phonenumbers lists every zone of +1 for toll-free and Caribbean numbers.
MAX_ZONE_SPREAD: Final = 4 * 3600.0


class Routing(StrEnum):
    """Where a moment falls in the business's week (exactly one applies)."""

    BUSINESS_HOURS = "business_hours"
    AFTER_HOURS = "after_hours"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"


def is_open(business: BusinessSettings, local: datetime) -> bool:
    """True when ``local`` (a wall-clock time in the business's zone) is within opening hours."""
    if business.hours is None:
        return local.date() not in business.holidays
    seconds = seconds_of_day(local)
    today = local.date()
    yesterday = today - timedelta(days=1)
    # A shift belongs to the day it starts: Friday's "22:00-02:00" is open at 01:00 on Saturday
    # unless Friday was a holiday, and stays open even if Saturday is one.
    if today not in business.holidays and any(
        r.covers(seconds) for r in business.hours.on(today.weekday())
    ):
        return True
    return yesterday not in business.holidays and any(
        r.spills_over(seconds) for r in business.hours.on(yesterday.weekday())
    )


def routing_at(business: BusinessSettings, at: float) -> Routing:
    """Whether the business is open at epoch ``at``, and if not, why (holiday, weekend...)."""
    local = datetime.fromtimestamp(at, business.zone)
    if is_open(business, local):
        return Routing.BUSINESS_HOURS
    if local.date() in business.holidays:
        return Routing.HOLIDAY
    if WEEKDAYS[local.weekday()] in business.weekend:
        return Routing.WEEKEND
    return Routing.AFTER_HOURS


def when_matches(when: When, routing: Routing) -> bool:
    """True when a rule's ``when`` covers ``routing`` (``after_hours`` means any closed time)."""
    if when is When.ANY:
        return True
    if when is When.AFTER_HOURS:
        return routing is not Routing.BUSINESS_HOURS
    return when.value == routing.value


def _wall(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    day += timedelta(days=minutes // MINUTES_PER_DAY)
    minutes %= MINUTES_PER_DAY
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)


def _offset(zone: ZoneInfo, at: float) -> float:
    offset = datetime.fromtimestamp(at, zone).utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def quiet_end(quiet: TimeRange, zone: ZoneInfo, at: float) -> float | None:
    """When the quiet period containing epoch ``at`` ends in ``zone``; None if not quiet."""
    local = datetime.fromtimestamp(at, zone)
    seconds = seconds_of_day(local)
    if quiet.covers(seconds):
        end_day = local.date() + timedelta(days=1 if quiet.crosses_midnight else 0)
    elif quiet.spills_over(seconds):
        end_day = local.date()
    else:
        return None
    end = _wall(end_day, quiet.end, zone)
    # An end inside the autumn's repeated hour resolves to its first occurrence (fold=0),
    # which may lie before ``at`` when ``at`` is in the second one; take the second then.
    if end.timestamp() <= at:
        end = end.replace(fold=1)
    # An end inside the spring gap (02:30 that never happens) resolves with the old offset,
    # i.e. shortly after the jump: later rather than earlier, which is what quiet hours want.
    return max(end.timestamp(), at)


def defer_for_quiet_hours(quiet: TimeRange, zones: Sequence[ZoneInfo], at: float) -> float:
    """The first moment at or after ``at`` outside quiet hours in every one of ``zones``.

    A number whose zone is ambiguous between neighbours (North Dakota: Denver or Chicago)
    waits until it is daytime in all of them. When the zones span more than
    :data:`MAX_ZONE_SPREAD`, or share no daytime soon enough, only the first, most likely
    zone counts.
    """
    if not zones:
        return at
    offsets = [_offset(zone, at) for zone in zones]
    if max(offsets) - min(offsets) > MAX_ZONE_SPREAD:
        zones = zones[:1]
    when = at
    # Each pass moves ``when`` to the end of some zone's night; a handful of passes settles.
    for _ in range(4 * len(zones) + 2):
        ends = [e for e in (quiet_end(quiet, z, when) for z in zones) if e is not None]
        if not ends:
            return when
        when = max(ends)
        if when - at > MAX_QUIET_DEFERRAL:
            break
    return quiet_end(quiet, zones[0], at) or at
