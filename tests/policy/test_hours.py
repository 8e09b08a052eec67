"""Business hours in the business's zone and quiet hours in the caller's, across DST."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from asterisk_textback.policy import (
    BusinessSettings,
    Routing,
    When,
    defer_for_quiet_hours,
    parse_range,
    quiet_end,
    routing_at,
    when_matches,
)
from tests.policy.helpers import epoch, local

NEW_YORK = BusinessSettings.model_validate(
    {
        "timezone": "America/New_York",
        "hours": {
            "mon": ["09:00-17:00"],
            "tue": ["09:00-17:00"],
            "wed": ["09:00-12:00", "13:00-17:00"],
            "thu": ["09:00-17:00"],
            "fri": ["09:00-17:00", "22:00-02:00"],
            "sat": ["10:00-14:00", "22:00-02:00"],
        },
        # Thanksgiving; a Saturday holiday right after a Friday night shift; Christmas.
        "holidays": ["2026-11-26", "2026-11-28", "2026-12-25"],
    }
)
BERLIN = BusinessSettings.model_validate(
    {
        "timezone": "Europe/Berlin",
        "default_region": "DE",
        "hours": {day: ["08:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    }
)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # US DST starts Sunday 2026-03-08: the same UTC instant is 08:30 before, 09:30 after.
        ("2026-03-06T13:30Z", Routing.AFTER_HOURS),  # Fri 08:30 EST
        ("2026-03-06T14:00Z", Routing.BUSINESS_HOURS),  # Fri 09:00 EST, opening minute
        ("2026-03-09T13:30Z", Routing.BUSINESS_HOURS),  # Mon 09:30 EDT
        ("2026-03-09T12:59Z", Routing.AFTER_HOURS),  # Mon 08:59 EDT
        ("2026-03-09T21:00Z", Routing.AFTER_HOURS),  # Mon 17:00 EDT, closing minute
        ("2026-03-09T20:59Z", Routing.BUSINESS_HOURS),  # Mon 16:59 EDT
        # US DST ends Sunday 2026-11-01.
        ("2026-10-30T13:30Z", Routing.BUSINESS_HOURS),  # Fri 09:30 EDT
        ("2026-11-02T13:30Z", Routing.AFTER_HOURS),  # Mon 08:30 EST
        ("2026-11-02T14:00Z", Routing.BUSINESS_HOURS),  # Mon 09:00 EST
        ("2026-11-02T22:00Z", Routing.AFTER_HOURS),  # Mon 17:00 EST
        # Lunch break on Wednesdays.
        ("2026-03-11T16:30Z", Routing.AFTER_HOURS),  # Wed 12:30 EDT
        ("2026-03-11T17:00Z", Routing.BUSINESS_HOURS),  # Wed 13:00 EDT
        # Friday's "22:00-02:00" runs into Saturday morning.
        ("2026-03-14T02:30Z", Routing.BUSINESS_HOURS),  # Fri 22:30 EDT
        ("2026-03-14T05:59Z", Routing.BUSINESS_HOURS),  # Sat 01:59 EDT
        ("2026-03-14T06:00Z", Routing.WEEKEND),  # Sat 02:00 EDT
        ("2026-03-13T03:30Z", Routing.AFTER_HOURS),  # Thu 23:30 EDT: no Thursday shift
        ("2026-03-14T15:00Z", Routing.BUSINESS_HOURS),  # Sat 11:00
        ("2026-03-14T19:00Z", Routing.WEEKEND),  # Sat 15:00
        ("2026-03-15T16:00Z", Routing.WEEKEND),  # Sun 12:00
        # Saturday's night shift across the spring-forward night (02:00 EST -> 03:00 EDT).
        ("2026-03-08T06:30Z", Routing.BUSINESS_HOURS),  # Sun 01:30 EST
        ("2026-03-08T07:00Z", Routing.WEEKEND),  # Sun 03:00 EDT
        # ... and the fall-back night, where 01:30 happens twice: both are in the shift.
        ("2026-11-01T05:30Z", Routing.BUSINESS_HOURS),  # Sun 01:30 EDT
        ("2026-11-01T06:30Z", Routing.BUSINESS_HOURS),  # Sun 01:30 EST
        ("2026-11-01T07:00Z", Routing.WEEKEND),  # Sun 02:00 EST
        # Holidays.
        ("2026-11-26T15:00Z", Routing.HOLIDAY),  # Thanksgiving 10:00
        ("2026-11-27T15:00Z", Routing.BUSINESS_HOURS),  # the day after
        # Friday 27th's night shift started on a working day: open on the Saturday holiday.
        ("2026-11-28T06:30Z", Routing.BUSINESS_HOURS),  # Sat 01:30 EST
        ("2026-11-28T16:00Z", Routing.HOLIDAY),  # Sat 11:00: holiday beats opening hours
        # Christmas is a Friday: its night shift does not happen, so Saturday 01:30 is closed.
        ("2026-12-26T03:30Z", Routing.HOLIDAY),  # Fri 22:30 EST
        ("2026-12-26T06:30Z", Routing.WEEKEND),  # Sat 01:30 EST
    ],
)
def test_new_york_routing(when: str, expected: Routing) -> None:
    assert routing_at(NEW_YORK, epoch(when.replace("Z", ""), "UTC")) is expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # EU DST starts Sunday 2026-03-29 and ends Sunday 2026-10-25 (01:00 UTC both).
        ("2026-03-27T06:30Z", Routing.AFTER_HOURS),  # Fri 07:30 CET
        ("2026-03-27T07:00Z", Routing.BUSINESS_HOURS),  # Fri 08:00 CET
        ("2026-03-30T06:00Z", Routing.BUSINESS_HOURS),  # Mon 08:00 CEST
        ("2026-03-30T05:59Z", Routing.AFTER_HOURS),  # Mon 07:59 CEST
        ("2026-03-30T16:00Z", Routing.AFTER_HOURS),  # Mon 18:00 CEST
        ("2026-10-23T15:30Z", Routing.BUSINESS_HOURS),  # Fri 17:30 CEST
        ("2026-10-26T16:30Z", Routing.BUSINESS_HOURS),  # Mon 17:30 CET
        ("2026-10-26T17:00Z", Routing.AFTER_HOURS),  # Mon 18:00 CET
        ("2026-10-25T10:00Z", Routing.WEEKEND),  # the Sunday of the change
    ],
)
def test_berlin_routing(when: str, expected: Routing) -> None:
    assert routing_at(BERLIN, epoch(when.replace("Z", ""), "UTC")) is expected


def test_no_schedule_is_always_open_except_holidays() -> None:
    business = BusinessSettings.model_validate(
        {"timezone": "Europe/London", "holidays": ["2026-12-25"]}
    )
    assert routing_at(business, epoch("2026-12-24T23:59", "Europe/London")) is (
        Routing.BUSINESS_HOURS
    )
    assert routing_at(business, epoch("2026-12-25T00:00", "Europe/London")) is Routing.HOLIDAY
    assert routing_at(business, epoch("2026-12-27T03:00", "Europe/London")) is (
        Routing.BUSINESS_HOURS
    )


def test_weekend_days_are_configurable() -> None:
    business = NEW_YORK.model_copy(update={"weekend": ("fri", "sat")})
    assert routing_at(business, epoch("2026-03-15T12:00")) is Routing.AFTER_HOURS  # Sunday
    assert routing_at(business, epoch("2026-03-13T20:00")) is Routing.WEEKEND  # Friday


@pytest.mark.parametrize(
    ("when", "routing", "matches"),
    [
        (When.ANY, Routing.BUSINESS_HOURS, True),
        (When.ANY, Routing.HOLIDAY, True),
        (When.BUSINESS_HOURS, Routing.BUSINESS_HOURS, True),
        (When.BUSINESS_HOURS, Routing.AFTER_HOURS, False),
        (When.AFTER_HOURS, Routing.AFTER_HOURS, True),
        (When.AFTER_HOURS, Routing.WEEKEND, True),
        (When.AFTER_HOURS, Routing.HOLIDAY, True),
        (When.AFTER_HOURS, Routing.BUSINESS_HOURS, False),
        (When.WEEKEND, Routing.WEEKEND, True),
        (When.WEEKEND, Routing.AFTER_HOURS, False),
        (When.WEEKEND, Routing.HOLIDAY, False),
        (When.HOLIDAY, Routing.HOLIDAY, True),
        (When.HOLIDAY, Routing.WEEKEND, False),
    ],
)
def test_when_matches(when: When, routing: Routing, matches: bool) -> None:
    assert when_matches(when, routing) is matches


QUIET = parse_range("21:00-08:00")


@pytest.mark.parametrize(
    ("at", "zone", "expected"),
    [
        ("2026-06-10T20:59", "Europe/London", None),
        ("2026-06-10T21:00", "Europe/London", "2026-06-11T08:00"),
        ("2026-06-10T23:00", "Europe/London", "2026-06-11T08:00"),
        ("2026-06-11T03:00", "Europe/London", "2026-06-11T08:00"),
        ("2026-06-11T08:00", "Europe/London", None),
        # Nights that are an hour shorter or longer still end at 08:00 local.
        ("2026-03-07T23:00", "America/New_York", "2026-03-08T08:00"),
        ("2026-10-31T23:00", "America/New_York", "2026-11-01T08:00"),
        ("2026-03-28T23:00", "Europe/London", "2026-03-29T08:00"),
        ("2026-10-24T23:00", "Europe/London", "2026-10-25T08:00"),
    ],
)
def test_quiet_end(at: str, zone: str, expected: str | None) -> None:
    end = quiet_end(QUIET, ZoneInfo(zone), epoch(at, zone))
    assert (None if end is None else local(end, zone)) == expected


def test_quiet_end_in_the_repeated_autumn_hour() -> None:
    # Quiet until 01:30, asked at the second 01:15 (EST): 01:30 EST, not the earlier 01:30 EDT.
    quiet = parse_range("21:00-01:30")
    zone = ZoneInfo("America/New_York")
    at = epoch("2026-11-01T06:15", "UTC")  # 01:15 EST
    end = quiet_end(quiet, zone, at)
    assert end == epoch("2026-11-01T06:30", "UTC")


def test_quiet_end_in_the_spring_gap_is_after_the_jump() -> None:
    quiet = parse_range("21:00-02:30")  # 02:30 does not exist on 2026-03-08 in New York
    zone = ZoneInfo("America/New_York")
    end = quiet_end(quiet, zone, epoch("2026-03-08T01:00"))
    assert end is not None
    assert local(end, "America/New_York") == "2026-03-08T03:30"


def test_defer_waits_for_daytime_in_every_candidate_zone() -> None:
    # 07:30 in New York is 04:30 in Los Angeles: wait for 08:00 on the west coast.
    zones = [ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")]
    at = epoch("2026-06-10T07:30")
    assert local(defer_for_quiet_hours(QUIET, zones, at), "America/Los_Angeles") == (
        "2026-06-10T08:00"
    )


def test_defer_uses_the_first_zone_when_zones_are_far_apart() -> None:
    # UTC, UTC+8 and UTC-8 (a country across half the globe) say nothing about the caller:
    # only the first, most likely zone counts then.
    zones = [ZoneInfo("UTC"), ZoneInfo("Asia/Shanghai"), ZoneInfo("Pacific/Pitcairn")]
    at = epoch("2026-06-10T22:00", "UTC")
    assert local(defer_for_quiet_hours(QUIET, zones, at), "UTC") == "2026-06-11T08:00"


def test_defer_without_zones_is_immediate() -> None:
    assert defer_for_quiet_hours(QUIET, [], 123.0) == 123.0


def test_defer_falls_back_to_the_first_zone_when_no_common_daytime() -> None:
    # A 2-hour daytime window: 08:00-10:00 in New York and in Los Angeles never overlap.
    quiet = parse_range("10:00-08:00")
    zones = [ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")]
    at = epoch("2026-06-10T22:00")
    assert local(defer_for_quiet_hours(quiet, zones, at), "America/New_York") == (
        "2026-06-11T08:00"
    )
