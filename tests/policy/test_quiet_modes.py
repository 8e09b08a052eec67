"""Quiet hours: the setting's forms, custom windows, holidays, and places beyond the states."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from asterisk_textback.policy import (
    NO_HISTORY,
    Action,
    Place,
    PolicySettings,
    QuietHours,
    SuppressReason,
    TimeRange,
    decide,
    place_of,
    rules_for,
    window_opens,
)
from asterisk_textback.policy.holidays import (
    nth_weekday,
    rhode_island_holiday,
    us_federal_holiday,
    us_federal_holidays,
)
from asterisk_textback.policy.quiet_rules import CANADA, FEDERAL, STATES
from tests.policy.helpers import call_at, config_error, epoch, local, settings

NY, CHI = "America/New_York", "America/Chicago"


def world(quiet: Any = "strict", **suppression: Any) -> PolicySettings:
    return settings(
        business={"timezone": NY},
        suppression={"allowed_countries": ["*"], "quiet_hours": quiet, **suppression},
    )


def send_time(config: PolicySettings, number: str, ended: str, zone: str) -> str:
    end = epoch(ended, zone)
    decision = decide(call_at(end, caller_number=number), NO_HISTORY, config, end)
    assert decision.send_at is not None, decision
    return local(decision.send_at, zone)


# The setting's forms -------------------------------------------------------------------


def test_default_is_strict() -> None:
    assert PolicySettings().suppression.quiet_hours == QuietHours(law="strict")
    assert world(True).suppression.quiet_hours == QuietHours(law="strict")


@pytest.mark.parametrize("written", ["strict", "federal"])
def test_modes_load_and_dump_as_written(written: str) -> None:
    config = world(written)
    assert config.suppression.quiet_hours == QuietHours(law=written)  # type: ignore[arg-type]
    assert config.model_dump()["suppression"]["quiet_hours"] == written


def test_a_legacy_range_keeps_its_meaning_under_the_law() -> None:
    config = world("20:00-09:30")
    quiet = config.suppression.quiet_hours
    assert quiet is not None
    assert quiet.daily == (TimeRange(9 * 60 + 30, 20 * 60),)
    assert quiet.law == "strict"
    assert config.model_dump()["suppression"]["quiet_hours"] == "20:00-09:30"
    # Its own night, and Texas's Sunday noon, both hold.
    assert send_time(config, "2125550147", "2026-06-10T20:00", NY) == "2026-06-11T09:30"
    assert send_time(config, "7135550100", "2026-06-14T10:00", CHI) == "2026-06-14T12:00"


def test_a_legacy_range_crossing_nothing() -> None:
    # Quiet 00:00-06:00 only: allowed 06:00 to midnight; the federal 21:00 still applies.
    config = world("00:00-06:00")
    assert send_time(config, "2125550147", "2026-06-10T21:30", NY) == "2026-06-11T08:00"
    exact_old = world({"law": "none", "daily": ["06:00-24:00"]})
    assert send_time(exact_old, "2125550147", "2026-06-10T21:30", NY) == "2026-06-10T21:30"
    assert send_time(exact_old, "2125550147", "2026-06-11T05:00", NY) == "2026-06-11T06:00"


@pytest.mark.parametrize("off", [False, "", "off", None])
def test_off(off: object) -> None:
    config = world(off)
    assert config.suppression.quiet_hours is None
    end = epoch("2026-06-14T03:00", CHI)
    decision = decide(call_at(end, caller_number="7135550100"), NO_HISTORY, config, end)
    assert decision.send_at == end
    assert decision.quiet_rule is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9pm-8am", 'suppression.quiet_hours: "9pm-8am" is not a quiet-hours setting'),
        ("lenient", 'suppression.quiet_hours: "lenient" is not a quiet-hours setting'),
        ({"law": "state"}, "suppression.quiet_hours.law"),
        ({"daily": ["25:00-26:00"]}, "suppression.quiet_hours.daily[0]"),
        ({"weekends": ["10:00-12:00"]}, "suppression.quiet_hours.weekends"),
    ],
)
def test_errors_name_the_key(value: object, message: str) -> None:
    assert message in config_error({"suppression": {"quiet_hours": value}})


# Custom windows ------------------------------------------------------------------------


def test_custom_windows_per_weekday_under_the_law() -> None:
    config = world({"daily": ["09:00-17:00"], "sat": ["10:00-12:00"], "sun": []})
    assert config.model_dump(mode="json")["suppression"]["quiet_hours"] == {
        "law": "strict",
        "daily": ["09:00-17:00"],
        "sat": ["10:00-12:00"],
        "sun": [],
    }
    dumped = config.model_dump(mode="json")
    assert PolicySettings.model_validate(dumped) == config
    ny = "2125550147"
    assert send_time(config, ny, "2026-06-10T08:30", NY) == "2026-06-10T09:00"
    assert send_time(config, ny, "2026-06-10T17:00", NY) == "2026-06-11T09:00"
    assert send_time(config, ny, "2026-06-12T17:00", NY) == "2026-06-13T10:00"
    assert send_time(config, ny, "2026-06-13T12:00", NY) == "2026-06-15T09:00"
    end = epoch("2026-06-13T12:30", NY)
    decision = decide(call_at(end, caller_number=ny), NO_HISTORY, config, end)
    assert decision.detail.startswith("quiet hours: custom windows (suppression.quiet_hours) Mon")
    # Connecticut's 20:00 is stricter than nothing, and 09:00 equals its own opening.
    late = world({"daily": ["07:00-22:00"]})
    assert send_time(late, "8605550100", "2026-06-10T07:30", NY) == "2026-06-10T09:00"


def test_custom_windows_without_the_law() -> None:
    config = world({"law": "none", "daily": ["07:00-22:00"]})
    assert send_time(config, "8605550100", "2026-06-10T07:30", NY) == "2026-06-10T07:30"
    assert send_time(config, "8605550100", "2026-06-10T22:00", NY) == "2026-06-11T07:00"


def test_custom_holidays() -> None:
    config = world({"holidays": []})
    # Thanksgiving 2026 in New York: nothing; the next morning at the federal 08:00.
    assert send_time(config, "2125550147", "2026-11-26T10:00", NY) == "2026-11-27T08:00"
    assert send_time(world(), "2125550147", "2026-11-26T10:00", NY) == "2026-11-26T10:00"
    short = world({"holidays": ["12:00-14:00"]})
    assert send_time(short, "2125550147", "2026-12-25T09:00", NY) == "2026-12-25T12:00"


def test_no_window_within_a_week_is_not_texted() -> None:
    # Own windows on Sundays only, and Rhode Island allows none on Sundays: never both open.
    config = world({"daily": [], "sun": ["10:00-17:00"]})
    end = epoch("2026-06-10T12:00", NY)
    decision = decide(call_at(end, caller_number="4015550100"), NO_HISTORY, config, end)
    assert decision.action is Action.SUPPRESS
    assert decision.reason is SuppressReason.QUIET_HOURS
    assert decision.detail.startswith("no texting window within 8 days under custom windows")
    assert "Rhode Island" in decision.detail
    assert window_opens("+14015550100", end, config) is None
    # A New York number under the same windows: Sunday at 10:00.
    assert send_time(config, "2125550147", "2026-06-10T12:00", NY) == "2026-06-14T10:00"


def test_a_window_starting_in_the_repeated_hour() -> None:
    # Own window 01:30-03:00 on the night the clocks go back (2026-11-01, New York): a text
    # due at the second 01:15 goes at the second 01:30, not the next night.
    config = world({"law": "none", "daily": ["01:30-03:00"]})
    second_0115 = epoch("2026-11-01T06:15", "UTC")  # 01:15 EST, after the fall back
    decision = decide(call_at(second_0115), NO_HISTORY, config, second_0115)
    assert decision.send_at == second_0115 + 15 * 60


# Places --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "place"),
    [
        ("+12125550147", Place("US", "NY")),  # the geocoder says "New York, NY"
        ("+17135550100", Place("US", "TX")),  # ... and "Texas"
        ("+16565550100", Place("US", "FL")),  # an overlay
        ("+12025550100", Place("US", "DC")),
        ("+14165550100", Place("CA", "ON")),
        ("+15149990000", Place("CA", "QC")),
        ("+17875550100", Place("PR")),
        ("+18005550100", Place("US")),  # toll-free: no state
        ("+447400123456", Place("GB")),
        (None, Place(None)),
        ("+999", Place(None)),
    ],
)
def test_place_of(number: str | None, place: Place) -> None:
    assert place_of(number) == place


def test_place_names() -> None:
    assert Place("US", "TX").name == "Texas"
    assert Place("CA", "ON").name == "Ontario"
    assert Place("GB").name == "GB"
    assert Place(None).name == "unknown place"


def test_rules_for_each_place() -> None:
    strict, federal = QuietHours(), QuietHours(law="federal")
    assert rules_for(strict, Place("US", "TX")) == (FEDERAL, STATES["TX"])
    assert rules_for(federal, Place("US", "TX")) == (FEDERAL,)
    assert rules_for(strict, Place("US", None)) == (FEDERAL,)
    assert rules_for(strict, Place("US", "NY")) == (FEDERAL,)
    assert rules_for(strict, Place("CA", "ON")) == (FEDERAL, CANADA)
    assert rules_for(federal, Place("CA", "ON")) == (FEDERAL, CANADA)
    assert rules_for(strict, Place("GB")) == (FEDERAL,)
    assert rules_for(QuietHours(law="none"), Place("US", "TX")) == ()


def test_a_number_whose_state_is_unknown_gets_the_federal_window() -> None:
    # 500 numbers are US but tied to no state (and span every zone: the business's counts).
    config = world(block_number_types=[])
    end = epoch("2026-06-14T08:30", NY)
    decision = decide(call_at(end, caller_number="5005550100"), NO_HISTORY, config, end)
    assert decision.send_at == end
    assert decision.quiet_rule == "federal (47 CFR § 64.1200(c)(1))"
    assert send_time(config, "5005550100", "2026-06-14T21:00", NY) == "2026-06-15T08:00"


@pytest.mark.parametrize(
    ("ended", "expected"),
    [
        ("2026-06-10T08:30", "2026-06-10T09:00"),  # CRTC weekdays from 09:00
        ("2026-06-10T21:15", "2026-06-11T09:00"),  # CRTC allows 21:30, the federal 21:00 not
        ("2026-06-13T09:30", "2026-06-13T10:00"),  # weekends 10:00-18:00
        ("2026-06-13T18:00", "2026-06-14T10:00"),
        ("2026-06-14T17:59", "2026-06-14T17:59"),
    ],
)
def test_a_canadian_number(ended: str, expected: str) -> None:
    assert send_time(world(), "4165550100", ended, "America/Toronto") == expected


def test_a_number_outside_north_america_gets_the_federal_window_on_its_clock() -> None:
    # No national rule is encoded for other countries: 8 am-9 pm on the recipient's clock.
    london = "Europe/London"
    assert send_time(world(), "+447400123456", "2026-06-14T07:59", london) == "2026-06-14T08:00"
    assert send_time(world(), "+447400123456", "2026-06-14T20:59", london) == "2026-06-14T20:59"
    assert send_time(world(), "+447400123456", "2026-06-14T21:00", london) == "2026-06-15T08:00"


# Holidays ------------------------------------------------------------------------------


def test_federal_holidays_2026() -> None:
    assert sorted(us_federal_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 5, 25),
        date(2026, 6, 19),
        date(2026, 7, 3),  # July 4 is a Saturday: observed on Friday
        date(2026, 7, 4),
        date(2026, 9, 7),
        date(2026, 10, 12),
        date(2026, 11, 11),
        date(2026, 11, 26),
        date(2026, 12, 25),
    ]
    assert us_federal_holiday(date(2026, 7, 3)) == "Independence Day (observed)"
    assert us_federal_holiday(date(2026, 7, 6)) is None


def test_observed_days_across_years() -> None:
    # Jan 1 2028 is a Saturday: observed on Friday Dec 31 2027.
    assert us_federal_holiday(date(2027, 12, 31)) == "New Year's Day (observed)"
    # Christmas 2027 is a Saturday: the Friday before.
    assert us_federal_holiday(date(2027, 12, 24)) == "Christmas Day (observed)"
    # Juneteenth 2022 was a Sunday: observed on Monday the 20th; none before 2021.
    assert us_federal_holiday(date(2022, 6, 20)) == "Juneteenth (observed)"
    assert us_federal_holiday(date(2020, 6, 19)) is None


def test_nth_weekday() -> None:
    assert nth_weekday(2026, 5, 0, -1) == date(2026, 5, 25)
    assert nth_weekday(2026, 12, 3, -1) == date(2026, 12, 31)
    assert nth_weekday(2026, 11, 3, 4) == date(2026, 11, 26)
    assert rhode_island_holiday(date(2026, 8, 10)) == "Victory Day"
    assert rhode_island_holiday(date(2026, 8, 17)) is None


def test_window_opens_for_a_text_moved_later() -> None:
    # A retry or a cap hold landing at 20:30 in Houston on a Sunday: fine; at 21:05: Monday 9.
    config = world()
    sunday = epoch("2026-06-14T20:30", CHI)
    assert window_opens("+17135550100", sunday, config) == sunday
    late = epoch("2026-06-14T21:05", CHI)
    assert local(window_opens("+17135550100", late, config), CHI) == "2026-06-15T09:00"
    assert window_opens("+17135550100", late, world(False)) == late
    assert window_opens("not a number", late, config) == late
