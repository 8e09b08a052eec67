"""decide(): send delay, recipient quiet hours across zones and DST, expiry, output."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from asterisk_textback.policy import (
    NO_HISTORY,
    Action,
    CallerNumber,
    NumberKind,
    PolicySettings,
    decide,
    recipient_zones,
)
from tests.policy.helpers import (
    BASE,
    HOURS,
    NOON,
    NY,
    call_at,
    epoch,
    local,
    settings,
)


def test_send_now_by_default() -> None:
    decision = decide(call_at(NOON), NO_HISTORY, BASE, NOON + 0.2)
    assert decision.send_at == NOON + 0.2
    assert decision.expires_at == NOON + 0.2 + 60 * 60
    assert not decision.deferred


def test_send_delay_counts_from_the_call_end() -> None:
    config = settings(business=HOURS, suppression={"send_delay_seconds": 90})
    assert decide(call_at(NOON), NO_HISTORY, config, NOON + 1).send_at == NOON + 90
    # Decided late (a backlog): never in the past.
    assert decide(call_at(NOON), NO_HISTORY, config, NOON + 100).send_at == NOON + 100


def world(zone: str) -> PolicySettings:
    """Every country allowed; the business in ``zone``."""
    return settings(business={"timezone": zone}, suppression={"allowed_countries": ["*"]})


QUIET: list[tuple[str, str, str, str, str, str]] = [
    # id, caller, business zone, call end (local to the caller), caller zone, expected send
    ("uk mobile at 23:00", "+447400123456", NY, "2026-06-10T23:00", "Europe/London",
     "2026-06-11T08:00"),
    ("uk mobile at 07:59", "+447400123456", NY, "2026-06-11T07:59", "Europe/London",
     "2026-06-11T08:00"),
    ("new york number, london business", "2125550147", "Europe/London", "2026-06-10T21:30", NY,
     "2026-06-11T08:00"),
    ("berlin mobile after midnight", "+4915112345678", NY, "2026-06-11T00:30", "Europe/Berlin",
     "2026-06-11T08:00"),
    ("night of the US spring change", "2125550147", NY, "2026-03-08T01:00", NY,
     "2026-03-08T08:00"),
    ("night of the US autumn change", "2125550147", NY, "2026-11-01T01:30", NY,
     "2026-11-01T08:00"),
    ("night of the EU spring change", "+447400123456", NY, "2026-03-29T00:30", "Europe/London",
     "2026-03-29T08:00"),
    # 22:00 in New York is 19:00 in San Francisco: the caller's clock decides.
    ("san francisco number at 19:00", "4155550199", NY, "2026-06-10T19:00", "America/Los_Angeles",
     "2026-06-10T19:00"),
    # North Dakota's 701 straddles Mountain and Central time: wait for both mornings.
    ("north dakota number", "7015550123", NY, "2026-06-10T06:30", "America/Denver",
     "2026-06-10T08:00"),
    ("new york number at 20:59", "2125550147", NY, "2026-06-10T20:59", NY, "2026-06-10T20:59"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("caller", "business_zone", "ended", "zone", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in QUIET],
)
def test_quiet_hours_defer_to_the_callers_morning(
    caller: str, business_zone: str, ended: str, zone: str, expected: str
) -> None:
    end = epoch(ended, zone)
    config = world(business_zone)
    decision = decide(call_at(end, caller_number=caller), NO_HISTORY, config, end)
    assert decision.action is Action.SEND
    assert decision.send_at is not None
    assert local(decision.send_at, zone) == expected
    assert decision.deferred is (expected != ended)
    # The text stays valid for max_age after its (deferred) send time.
    assert decision.expires_at == decision.send_at + 3600


def test_quiet_hours_configurable_and_off() -> None:
    end = epoch("2026-06-10T20:30")
    late = settings(suppression={"quiet_hours": "20:00-09:30"})
    decision = decide(call_at(end), NO_HISTORY, late, end)
    assert local(decision.send_at or 0, NY) == "2026-06-11T09:30"
    assert "20:00-09:30" in decision.detail
    off = settings(suppression={"quiet_hours": False})
    assert decide(call_at(end), NO_HISTORY, off, end).send_at == end


def test_recipient_zone_falls_back_to_the_business_zone() -> None:
    business = world("Europe/Paris").business
    nowhere = CallerNumber("x", NumberKind.VALID, timezones=())
    assert recipient_zones(nowhere, business.zone) == (business.zone,)
    bogus = CallerNumber("x", NumberKind.VALID, timezones=("Not/AZone",))
    assert recipient_zones(bogus, business.zone) == (business.zone,)


def test_recipient_zones_put_the_business_zone_first() -> None:
    number = CallerNumber("x", NumberKind.VALID, timezones=("America/Chicago", NY))
    assert [z.key for z in recipient_zones(number, ZoneInfo(NY))] == [NY, "America/Chicago"]


def test_toll_free_spanning_every_zone_uses_the_business_zone() -> None:
    config = settings(business={"timezone": NY}, suppression={"block_number_types": []})
    end = epoch("2026-06-10T22:00")
    decision = decide(call_at(end, caller_number="8005550100"), NO_HISTORY, config, end)
    assert local(decision.send_at or 0, NY) == "2026-06-11T08:00"


def test_decision_json() -> None:
    decision = decide(call_at(NOON), NO_HISTORY, BASE, NOON)
    assert decision.to_json() == {
        "action": "send",
        "reason": None,
        "detail": "",
        "routing": "business_hours",
        "to": "+12125550147",
        "rule": 1,
        "rule_name": "voicemail left",
        "template": "missed_voicemail",
        "experiment": None,
        "send_at": "2026-06-10T15:00:00+00:00",
        "expires_at": "2026-06-10T16:00:00+00:00",
        "deferred": False,
        "quiet_rule": "federal (47 CFR § 64.1200(c)(1))",
    }
    suppressed = decide(call_at(NOON, caller_number="anonymous"), NO_HISTORY, BASE, NOON)
    assert suppressed.to_json()["reason"] == "anonymous"
    assert suppressed.to_json()["send_at"] is None
    assert decision.rate_prefix == "+1212"


def test_decide_is_pure() -> None:
    call = call_at(NOON)
    assert decide(call, NO_HISTORY, BASE, NOON) == decide(call, NO_HISTORY, BASE, NOON)
    assert replace(call) == call
