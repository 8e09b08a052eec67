"""Quiet hours by the recipient's state: every row of the table, at and around its edges.

Each case is a call ending at a wall-clock time on the recipient's clock and the moment the
text may go out on that clock. A case fails if a state's window is widened or narrowed by a
minute, if a banned day (Sunday in Mississippi and Rhode Island) or a holiday is let through,
or if the state is mistaken for another.
"""

from __future__ import annotations

import pytest

from asterisk_textback.policy import NO_HISTORY, Action, PolicySettings, decide
from tests.policy.helpers import call_at, epoch, local, settings

NY, CHI = "America/New_York", "America/Chicago"
FL, OK, MD, MS, NJ, CT, TX, RI = (
    "3055550100",  # Miami
    "4055550100",  # Oklahoma City
    "3015550100",  # Maryland
    "6015550100",  # Jackson, Mississippi
    "2015550100",  # Jersey City
    "8605550100",  # Hartford
    "7135550100",  # Houston
    "4015550100",  # Providence
)

# 2026-06-10 is a Wednesday, 06-13 a Saturday, 06-14 a Sunday (summer time everywhere).
CASES: list[tuple[str, str, str, str, str]] = [
    # id, number, zone, call end (recipient's clock), first allowed moment
    ("florida inside", FL, NY, "2026-06-10T19:59", "2026-06-10T19:59"),
    ("florida closes at 20:00", FL, NY, "2026-06-10T20:00", "2026-06-11T08:00"),
    ("florida opens at 08:00", FL, NY, "2026-06-11T07:59", "2026-06-11T08:00"),
    ("florida sunday", FL, NY, "2026-06-14T08:00", "2026-06-14T08:00"),
    ("oklahoma inside", OK, CHI, "2026-06-10T19:59", "2026-06-10T19:59"),
    ("oklahoma closes at 20:00", OK, CHI, "2026-06-10T20:00", "2026-06-11T08:00"),
    ("oklahoma opens at 08:00", OK, CHI, "2026-06-11T07:59", "2026-06-11T08:00"),
    ("maryland inside", MD, NY, "2026-06-10T19:59", "2026-06-10T19:59"),
    ("maryland closes at 20:00", MD, NY, "2026-06-10T20:00", "2026-06-11T08:00"),
    ("maryland opens at 08:00", MD, NY, "2026-06-11T07:59", "2026-06-11T08:00"),
    # Mississippi: 8 am-8 pm Central *Standard* Time, so 9 am-8 pm on a summer clock.
    ("mississippi inside", MS, CHI, "2026-06-10T19:59", "2026-06-10T19:59"),
    ("mississippi closes at 20:00", MS, CHI, "2026-06-10T20:00", "2026-06-11T09:00"),
    ("mississippi summer opens at 09:00", MS, CHI, "2026-06-11T08:30", "2026-06-11T09:00"),
    ("mississippi winter opens at 08:00", MS, CHI, "2026-12-09T07:59", "2026-12-09T08:00"),
    ("mississippi no sundays", MS, CHI, "2026-06-14T10:00", "2026-06-15T09:00"),
    ("mississippi saturday night", MS, CHI, "2026-06-13T20:30", "2026-06-15T09:00"),
    # New Jersey's statute is the federal window (the issue had 8 pm).
    ("new jersey 20:30 is fine", NJ, NY, "2026-06-10T20:30", "2026-06-10T20:30"),
    ("new jersey closes at 21:00", NJ, NY, "2026-06-10T21:00", "2026-06-11T08:00"),
    ("connecticut inside", CT, NY, "2026-06-10T19:59", "2026-06-10T19:59"),
    ("connecticut closes at 20:00", CT, NY, "2026-06-10T20:00", "2026-06-11T09:00"),
    ("connecticut opens at 09:00", CT, NY, "2026-06-11T08:59", "2026-06-11T09:00"),
    ("texas weekday opens at 09:00", TX, CHI, "2026-06-10T08:59", "2026-06-10T09:00"),
    ("texas weekday last minute", TX, CHI, "2026-06-10T20:59", "2026-06-10T20:59"),
    ("texas closes at 21:00", TX, CHI, "2026-06-10T21:00", "2026-06-11T09:00"),
    ("texas saturday 09:00", TX, CHI, "2026-06-13T09:00", "2026-06-13T09:00"),
    ("texas saturday night to sunday noon", TX, CHI, "2026-06-13T21:30", "2026-06-14T12:00"),
    ("texas sunday morning", TX, CHI, "2026-06-14T09:00", "2026-06-14T12:00"),
    ("texas sunday 11:59", TX, CHI, "2026-06-14T11:59", "2026-06-14T12:00"),
    ("texas sunday noon", TX, CHI, "2026-06-14T12:00", "2026-06-14T12:00"),
    ("texas sunday closes at 21:00", TX, CHI, "2026-06-14T21:00", "2026-06-15T09:00"),
    ("rhode island weekday", RI, NY, "2026-06-10T17:59", "2026-06-10T17:59"),
    ("rhode island closes at 18:00", RI, NY, "2026-06-10T18:00", "2026-06-11T09:00"),
    ("rhode island opens at 09:00", RI, NY, "2026-06-11T08:59", "2026-06-11T09:00"),
    ("rhode island saturday opens at 10:00", RI, NY, "2026-06-13T09:59", "2026-06-13T10:00"),
    ("rhode island saturday last minute", RI, NY, "2026-06-13T16:59", "2026-06-13T16:59"),
    ("rhode island no sundays", RI, NY, "2026-06-13T17:00", "2026-06-15T09:00"),
    ("rhode island labor day", RI, NY, "2026-09-07T10:00", "2026-09-08T09:00"),
    ("rhode island victory day", RI, NY, "2026-08-10T10:00", "2026-08-11T09:00"),
    # July 4 2026 is a Saturday, observed on Friday the 3rd: no texts Fri, Sat or Sun.
    ("rhode island independence day", RI, NY, "2026-07-02T18:30", "2026-07-06T09:00"),
    # A state not in the table: the federal window.
    ("new york federal", "2125550147", NY, "2026-06-10T20:59", "2026-06-10T20:59"),
    ("new york closes at 21:00", "2125550147", NY, "2026-06-10T21:00", "2026-06-11T08:00"),
    # An overlay area code (656 over Tampa's 813) is the state it overlays.
    ("florida overlay", "6565550100", NY, "2026-06-10T20:00", "2026-06-11T08:00"),
    # El Paso is Texas on Mountain time: Texas's hours on the Mountain clock.
    ("el paso", "9155550100", "America/Denver", "2026-06-14T11:00", "2026-06-14T12:00"),
]  # fmt: skip

WORLD: PolicySettings = settings(
    business={"timezone": NY}, suppression={"allowed_countries": ["*"]}
)


@pytest.mark.parametrize(
    ("number", "zone", "ended", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_state_windows(number: str, zone: str, ended: str, expected: str) -> None:
    end = epoch(ended, zone)
    decision = decide(call_at(end, caller_number=number), NO_HISTORY, WORLD, end)
    assert decision.action is Action.SEND
    assert decision.send_at is not None
    assert local(decision.send_at, zone) == expected
    assert decision.deferred is (expected != ended)
    # Never dropped while it waits: max_age counts from the window's opening.
    assert decision.expires_at == decision.send_at + 3600


def test_the_decision_names_the_rule_and_the_deferral() -> None:
    end = epoch("2026-12-05T22:00", CHI)  # a Saturday night in Houston (winter: CST)
    decision = decide(call_at(end, caller_number=TX), NO_HISTORY, WORLD, end)
    assert decision.detail == (
        "quiet hours: Texas (Tex. Bus. & Com. Code § 301.051) Sun 12:00-21:00; "
        "deferred to Sun Dec 6 12:00 CST"
    )
    assert decision.quiet_rule == (
        "Texas (Tex. Bus. & Com. Code § 301.051), federal (47 CFR § 64.1200(c)(1))"
    )
    assert decision.to_json()["quiet_rule"] == decision.quiet_rule


def test_a_holiday_is_named() -> None:
    end = epoch("2026-11-26T10:00", NY)  # Thanksgiving, in Providence
    decision = decide(call_at(end, caller_number=RI), NO_HISTORY, WORLD, end)
    assert local(decision.send_at or 0, NY) == "2026-11-27T09:00"
    assert "Rhode Island" in decision.detail
    assert "R.I. Gen. Laws" in decision.detail


def test_mississippi_is_also_read_in_central_standard_time() -> None:
    end = epoch("2026-06-10T20:30", CHI)
    decision = decide(call_at(end, caller_number=MS), NO_HISTORY, WORLD, end)
    assert "08:00-20:00 CST" in decision.detail
    assert decision.detail.endswith("deferred to Thu Jun 11 09:00 CDT")


@pytest.mark.parametrize(
    ("ended", "expected", "hours"),
    [
        # Spring forward on Sunday 2026-03-08: Saturday 22:00 CST to Sunday noon CDT is 13 h.
        ("2026-03-07T22:00", "2026-03-08T12:00", 13.0),
        # Fall back on Sunday 2026-11-01: Saturday 23:00 CDT to Sunday noon CST is 14 h.
        ("2026-10-31T23:00", "2026-11-01T12:00", 14.0),
        # The changeover night itself, in the first 01:30 (CDT).
        ("2026-11-01T01:30", "2026-11-01T12:00", 11.5),
    ],
)
def test_texas_sunday_across_the_clock_changes(ended: str, expected: str, hours: float) -> None:
    end = epoch(ended, CHI)
    decision = decide(call_at(end, caller_number=TX), NO_HISTORY, WORLD, end)
    assert local(decision.send_at or 0, CHI) == expected
    # The wall clock is what counts, not elapsed hours.
    assert (decision.send_at or 0) - end == hours * 3600


def test_federal_mode_drops_the_state_table() -> None:
    federal = settings(
        business={"timezone": NY},
        suppression={"allowed_countries": ["*"], "quiet_hours": "federal"},
    )
    sunday = epoch("2026-06-14T08:30", CHI)
    decision = decide(call_at(sunday, caller_number=TX), NO_HISTORY, federal, sunday)
    assert decision.send_at == sunday
    assert decision.quiet_rule == "federal (47 CFR § 64.1200(c)(1))"
    late = epoch("2026-06-10T20:30", NY)
    decision = decide(call_at(late, caller_number=CT), NO_HISTORY, federal, late)
    assert decision.send_at == late
    night = epoch("2026-06-10T21:00", NY)
    decision = decide(call_at(night, caller_number=CT), NO_HISTORY, federal, night)
    assert local(decision.send_at or 0, NY) == "2026-06-11T08:00"
