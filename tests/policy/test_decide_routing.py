"""decide(): routing by the default and custom rules; the first match wins."""

from __future__ import annotations

from typing import Any

import pytest

from asterisk_textback.calls.model import Outcome, Reason
from asterisk_textback.policy import (
    NO_HISTORY,
    Action,
    Routing,
    SuppressReason,
    decide,
)
from tests.policy.helpers import (
    HOURS,
    NOON,
    call_at,
    epoch,
    history,
    settings,
)

R = SuppressReason


ROUTES: list[tuple[str, dict[str, Any], float, str, int, Routing]] = [
    # id, call changes, end time, template, default rule index, routing
    ("voicemail", {}, NOON, "missed_voicemail", 1, Routing.BUSINESS_HOURS),
    ("voicemail at night", {}, epoch("2026-06-10T18:30"), "after_hours", 0, Routing.AFTER_HOURS),
    ("saturday", {}, epoch("2026-06-13T11:00"), "after_hours", 0, Routing.WEEKEND),
    ("holiday", {}, epoch("2026-07-03T11:00"), "after_hours", 0, Routing.HOLIDAY),
    (
        "busy with voicemail",  # direct-busy-voicemail-left.ami
        {"caller_number": "6175550188", "reason": Reason.BUSY},
        NOON,
        "missed_voicemail",
        1,
        Routing.BUSINESS_HOURS,
    ),
    (
        "busy, no mailbox",
        {"reason": Reason.BUSY, "outcome": Outcome.MISSED_NO_VOICEMAIL, "mailbox": None},
        NOON,
        "busy",
        2,
        Routing.BUSINESS_HOURS,
    ),
    (
        "queue abandon",  # queue-abandon.ami
        {
            "caller_number": "2065550142",
            "did": "5550400",
            "queue": "support",
            "outcome": Outcome.MISSED_NO_VOICEMAIL,
            "reason": Reason.ABANDONED,
            "mailbox": None,
            "duration": 4.01,
        },
        NOON,
        "queue_abandon",
        3,
        Routing.BUSINESS_HOURS,
    ),
    (
        "queue timeout, voicemail",  # queue-timeout-voicemail-left.ami
        {"did": "5550400", "queue": "support", "reason": Reason.QUEUE_TIMEOUT},
        NOON,
        "missed_voicemail",
        1,
        Routing.BUSINESS_HOURS,
    ),
    (
        "ring group hang-up",  # ringgroup-novm-caller-hangup-ringing.ami
        {
            "caller_number": "7135550111",
            "did": "5550300",
            "outcome": Outcome.MISSED_NO_VOICEMAIL,
            "reason": Reason.CALLER_HANGUP,
            "mailbox": None,
            "duration": 4.01,
        },
        NOON,
        "missed_no_voicemail",
        4,
        Routing.BUSINESS_HOURS,
    ),
    (
        "hung up in greeting",  # direct-voicemail-hangup-in-greeting.ami
        {
            "caller_number": "3105550123",
            "outcome": Outcome.MISSED_NO_VOICEMAIL,
            "reason": Reason.VOICEMAIL_NO_MESSAGE,
        },
        NOON,
        "missed_no_voicemail",
        4,
        Routing.BUSINESS_HOURS,
    ),
]


@pytest.mark.parametrize(
    ("changes", "ended", "template", "rule", "routing"),
    [pytest.param(*case[1:], id=case[0]) for case in ROUTES],
)
def test_default_rules(
    changes: dict[str, Any], ended: float, template: str, rule: int, routing: Routing
) -> None:
    # Quiet hours off: this test is about what is sent, not when.
    config = settings(business=HOURS, suppression={"quiet_hours": False})
    decision = decide(call_at(ended, **changes), NO_HISTORY, config, ended)
    assert decision.action is Action.SEND, decision
    assert (decision.template, decision.rule, decision.routing) == (template, rule, routing)
    assert decision.rule_name == config.rules[rule].name


CUSTOM = settings(
    business=HOURS,
    rules=[
        {"did": "5550300", "action": "suppress", "label": "sales calls back themselves"},
        {"name": "holiday", "when": "holiday", "template": "holiday"},
        {"did": "55502*", "when": "business_hours", "template": "ringgroup"},
        {"queue": "support*", "when": ["weekend"], "template": "support_weekend"},
        {"queue": "support*", "template": "support", "experiment": "support-2026"},
        {"reason": "busy", "outcome": "missed_no_voicemail", "template": "busy"},
        {"when": "after_hours", "template": "closed", "send_delay_seconds": 120},
        {"outcome": "missed_voicemail", "when": "business_hours", "template": "voicemail"},
    ],
    suppression={"quiet_hours": False},
)
SATURDAY = epoch("2026-06-13T11:00")
EVENING = epoch("2026-06-10T19:00")

CUSTOM_ROUTES: list[tuple[str, dict[str, Any], float, str | None, int | None]] = [
    ("suppressed DID", {"did": "5550300"}, NOON, None, 0),
    ("suppressed DID beats holiday", {"did": "5550300"}, epoch("2026-07-03T10:00"), None, 0),
    ("holiday", {}, epoch("2026-07-03T10:00"), "holiday", 1),
    ("ring group glob", {"did": "5550200"}, NOON, "ringgroup", 2),
    ("ring group glob, evening", {"did": "5550200"}, EVENING, "closed", 6),
    ("queue on saturday", {"queue": "support-tier1"}, SATURDAY, "support_weekend", 3),
    ("queue on weekday", {"queue": "support"}, NOON, "support", 4),
    ("other queue", {"queue": "sales"}, NOON, "voicemail", 7),
    ("busy no voicemail", {"reason": Reason.BUSY, "outcome": Outcome.MISSED_NO_VOICEMAIL},
     NOON, "busy", 5),
    ("busy with voicemail", {"reason": Reason.BUSY}, NOON, "voicemail", 7),
    ("evening", {}, EVENING, "closed", 6),
    ("no rule for a daytime hang-up",
     {"outcome": Outcome.MISSED_NO_VOICEMAIL, "reason": Reason.CALLER_HANGUP}, NOON, None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "ended", "template", "rule"),
    [pytest.param(*case[1:], id=case[0]) for case in CUSTOM_ROUTES],
)
def test_custom_rules_first_match_wins(
    changes: dict[str, Any], ended: float, template: str | None, rule: int | None
) -> None:
    decision = decide(call_at(ended, **changes), NO_HISTORY, CUSTOM, ended)
    assert (decision.template, decision.rule) == (template, rule), decision
    if rule == 0:
        assert decision.reason is R.RULE_SUPPRESSED
        assert decision.detail == "sales calls back themselves"
        assert decision.rule_name == "rules[0]"
    elif rule is None:
        assert decision.reason is R.NO_RULE_MATCHED
        assert decision.detail == "business_hours call"


def test_rule_experiment_is_passed_on() -> None:
    decision = decide(call_at(NOON, queue="support"), NO_HISTORY, CUSTOM, NOON)
    assert decision.experiment == "support-2026"
    assert decide(call_at(NOON), NO_HISTORY, CUSTOM, NOON).experiment is None


def test_history_is_checked_after_a_suppress_rule() -> None:
    decision = decide(call_at(NOON, did="5550300"), history(opted_out=True), CUSTOM, NOON)
    assert decision.reason is R.RULE_SUPPRESSED


def test_no_rules_match_a_call_without_a_queue() -> None:
    config = settings(rules=[{"queue": "*", "template": "x"}])
    assert decide(call_at(NOON), NO_HISTORY, config, NOON).reason is R.NO_RULE_MATCHED


def test_rule_delay_overrides_the_default() -> None:
    decision = decide(call_at(EVENING), NO_HISTORY, CUSTOM, EVENING)
    assert (decision.template, decision.send_at) == ("closed", EVENING + 120)
