"""The [business], [[rules]] and [suppression] sections: defaults, shapes, errors by key."""

from __future__ import annotations

import tomllib
from datetime import date
from typing import Any

import pytest

from asterisk_textback.calls.model import Reason
from asterisk_textback.errors import ConfigError
from asterisk_textback.policy import (
    DEFAULT_RULES,
    LineType,
    PolicySettings,
    QuietHours,
    TimeRange,
    When,
    allowed_countries,
    check_templates,
)
from asterisk_textback.templates import TemplatesSettings
from asterisk_textback.templates.render import Renderer
from tests.policy.helpers import config_error, settings

EXAMPLE = """
[business]
name = "Acme Plumbing"
timezone = "America/New_York"
default_region = "US"
hours = { mon = ["08:00-12:00", "13:00-17:30"], fri = ["08:00-17:00", "22:00-02:00"] }
holidays = [2026-12-25, "2027-01-01"]
booking_link = "https://acme.example/book"

[[rules]]
name = "sales line"
did = "5550300"
action = "suppress"
label = "sales calls back themselves"

[[rules]]
when = ["weekend", "holiday"]
template = "after_hours"
send_delay_seconds = 30

[[rules]]
queue = "support*"
reason = ["abandoned", "queue_timeout"]
template = "queue_abandon"
experiment = "queue-2026"

[[rules]]
template = "missed_no_voicemail"

[suppression]
allowed_countries = ["US", "ca", "+44"]
block_number_types = ["toll_free", "premium_rate"]
cooldown_hours = 12
daily_cap = 2
global_rate_per_minute = 30
per_prefix_rate_per_minute = 5
rate_prefix_digits = 4
misdial_min_seconds = 4
text_ivr_only = false
quiet_hours = "20:30-09:00"
max_age_minutes = 30
send_delay_seconds = 5
"""


def test_example_config_parses() -> None:
    loaded = PolicySettings.model_validate(tomllib.loads(EXAMPLE))
    business, rules, supp = loaded.business, loaded.rules, loaded.suppression
    assert business.hours is not None
    assert business.hours.mon == (TimeRange(480, 720), TimeRange(780, 1050))
    assert business.hours.on(4)[1].crosses_midnight
    assert business.hours.sun == ()
    assert business.holidays == (date(2026, 12, 25), date(2027, 1, 1))
    assert business.zone.key == "America/New_York"
    assert rules[0].did == ("5550300",)
    assert rules[0].action == "suppress"
    assert rules[1].when == (When.WEEKEND, When.HOLIDAY)
    assert rules[2].reason == (Reason.ABANDONED, Reason.QUEUE_TIMEOUT)
    assert rules[3].when == (When.ANY,)
    assert rules[3].label_or(3) == "rules[3]"
    assert supp.allowed_countries == ("US", "CA", "+44")
    assert supp.block_number_types == (LineType.TOLL_FREE, LineType.PREMIUM_RATE)
    # The pre-issue-16 quiet range: its complement becomes the daily window, law on top.
    assert supp.quiet_hours is not None
    assert supp.quiet_hours.legacy == TimeRange(1230, 540)
    assert supp.quiet_hours.daily == (TimeRange(540, 1230),)
    assert supp.quiet_hours.law == "strict"
    assert allowed_countries(loaded) == ("US", "CA", "+44")


def test_defaults() -> None:
    default = PolicySettings()
    assert default.business.default_region == "US"
    assert default.business.hours is None
    assert default.rules == DEFAULT_RULES
    supp = default.suppression
    assert supp.cooldown_hours == 24
    assert supp.daily_cap == 3
    assert supp.quiet_hours == QuietHours(law="strict")
    assert LineType.TOLL_FREE in supp.block_number_types
    assert LineType.MOBILE not in supp.block_number_types
    assert allowed_countries(default) == ("US",)


def test_settings_are_frozen() -> None:
    default = PolicySettings()
    with pytest.raises(ValueError, match="frozen"):
        default.suppression.cooldown_hours = 1


@pytest.mark.parametrize("off", [False, ""])
def test_quiet_hours_can_be_switched_off(off: object) -> None:
    assert settings(suppression={"quiet_hours": off}).suppression.quiet_hours is None


def test_dump_round_trips() -> None:
    loaded = PolicySettings.model_validate(tomllib.loads(EXAMPLE))
    dumped = loaded.model_dump(mode="json")
    assert dumped["business"]["hours"]["mon"] == ["08:00-12:00", "13:00-17:30"]
    assert dumped["suppression"]["quiet_hours"] == "20:30-09:00"
    assert PolicySettings.model_validate(dumped) == loaded


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"business": {"hours": {"mon": ["25:00-26:00"]}}},
            'business.hours.mon[0]: "25:00-26:00" is not a time range',
        ),
        (
            {"business": {"hours": {"fri": ["08:00-17:00", "17:00"]}}},
            'business.hours.fri[1]: "17:00" is not a time range',
        ),
        (
            {"business": {"hours": {"mnd": []}}},
            "unknown key 'business.hours.mnd': did you mean 'business.hours.mon'?",
        ),
        (
            {"business": {"timezone": "Mars/Olympus"}},
            'business.timezone: "Mars/Olympus" is not an IANA time zone',
        ),
        ({"business": {"timezone": "../etc/passwd"}}, "business.timezone: "),
        ({"business": {"default_region": "XX"}}, 'business.default_region: "XX" is not an ISO'),
        ({"business": {"holidays": ["2026-13-01"]}}, "business.holidays[0]: "),
        ({"business": {"weekend": ["saturday"]}}, "business.weekend[0]: Input should be"),
        ({"business": {"booking_link": "acme.example"}}, "business.booking_link: must start"),
        (
            {"business": {"nmae": "Acme"}},
            "unknown key 'business.nmae': did you mean 'business.name'?",
        ),
        ({"rules": []}, "rules: at least one rule is needed"),
        ({"rules": [{"did": "5550100"}]}, 'rules[0].template: required when action = "send"'),
        (
            {"rules": [{"template": "busy"}, {"action": "suppress", "template": "busy"}]},
            'rules[1].template: not allowed with action = "suppress"',
        ),
        ({"rules": [{"template": "busy", "when": "night"}]}, "rules[0].when[0]: Input should be"),
        ({"rules": [{"template": "busy", "when": []}]}, "rules[0].when: "),
        (
            {"rules": [{"template": "busy", "outcome": "answered"}]},
            "rules[0].outcome[0]: Input should be 'missed_voicemail' or 'missed_no_voicemail'",
        ),
        ({"rules": [{"template": "busy", "reason": "bored"}]}, "rules[0].reason[0]: Input should"),
        ({"rules": [{"template": "busy", "did": [""]}]}, "rules[0].did[0]: must not be empty"),
        ({"rules": [{"template": "busy", "action": "drop"}]}, "rules[0].action: Input should be"),
        (
            {"rules": [{"template": "busy", "send_delay_seconds": -1}]},
            "rules[0].send_delay_seconds: Input should be greater than or equal to 0",
        ),
        (
            {"rules": [{"template": "busy", "dids": "1"}]},
            "unknown key 'rules[0].dids': did you mean 'rules[0].did'?",
        ),
        (
            {"suppression": {"allowed_countries": ["US", "XX"]}},
            'suppression.allowed_countries[1]: "XX" is not a country',
        ),
        (
            {"suppression": {"allowed_countries": ["+999"]}},
            'suppression.allowed_countries[0]: "+999" is not a country',
        ),
        (
            {"suppression": {"block_number_types": ["mobil"]}},
            "suppression.block_number_types[0]: Input should be",
        ),
        (
            {"suppression": {"quiet_hours": "9pm-8am"}},
            'suppression.quiet_hours: "9pm-8am" is not a quiet-hours setting',
        ),
        ({"suppression": {"cooldown_hours": -1}}, "suppression.cooldown_hours: Input should be"),
        ({"suppression": {"daily_cap": 0}}, "suppression.daily_cap: Input should be greater"),
        ({"suppression": {"max_age_minutes": 0}}, "suppression.max_age_minutes: Input should"),
        (
            {"suppression": {"cooldown": 1}},
            "unknown key 'suppression.cooldown': did you mean 'suppression.cooldown_hours'?",
        ),
    ],
)
def test_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    assert message in config_error(data)


def test_every_bad_key_is_reported_once() -> None:
    error = config_error({"rules": [{"template": "a"}, {"when": "x", "template": "b"}]})
    assert error.count(";") == 0  # only rules[1].when[0]; no extra "rules: too short"


def test_default_rules_use_the_default_templates() -> None:
    check_templates(PolicySettings(), Renderer(TemplatesSettings()))


def test_check_templates_names_each_rule() -> None:
    loaded = settings(
        rules=[
            {"template": "missed_voicemail"},
            {"action": "suppress"},
            {"template": "after_hour"},
            {"template": "bussy"},
        ]
    )
    with pytest.raises(ConfigError) as info:
        check_templates(loaded, Renderer(TemplatesSettings()))
    names = "missed_voicemail, missed_no_voicemail, after_hours, busy, queue_abandon"
    assert str(info.value) == (
        f"rules[2].template: template 'after_hour' not found; templates are: {names} "
        "(did you mean 'after_hours'?); "
        f"rules[3].template: template 'bussy' not found; templates are: {names} "
        "(did you mean 'busy'?)"
    )
