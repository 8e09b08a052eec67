"""decide(): every suppression with its recorded reason, and the sends next to them."""

from __future__ import annotations

from typing import Any

import pytest

from asterisk_textback.calls.model import Direction, Outcome, Reason
from asterisk_textback.policy import (
    NO_HISTORY,
    Action,
    ContactHistory,
    Routing,
    SuppressReason,
    decide,
)
from tests.policy.helpers import (
    BASE,
    HOUR,
    HOURS,
    NOON,
    call_at,
    history,
    settings,
)

R = SuppressReason


SUPPRESSIONS: list[tuple[str, dict[str, Any], ContactHistory, dict[str, Any], R]] = [
    # id, call changes, history, suppression settings, reason
    (
        "internal",
        {"direction": Direction.INTERNAL, "caller_number": "1001", "did": ""},
        NO_HISTORY,
        {},
        R.INTERNAL,
    ),
    ("outbound", {"direction": Direction.OUTBOUND}, NO_HISTORY, {}, R.OUTBOUND),
    (
        "answered",
        {"outcome": Outcome.ANSWERED, "reason": Reason.ANSWERED, "answered_by": "PJSIP/1001"},
        NO_HISTORY,
        {},
        R.ANSWERED,
    ),
    (
        "unknown outcome",
        {"outcome": Outcome.UNKNOWN, "reason": Reason.CONNECTION_LOST},
        NO_HISTORY,
        {},
        R.UNKNOWN_OUTCOME,
    ),
    (
        "excluded by the dialplan hook",
        {"excluded": True},
        NO_HISTORY,
        {},
        R.EXCLUDED_BY_DIALPLAN,
    ),
    ("anonymous", {"caller_number": "anonymous"}, NO_HISTORY, {}, R.ANONYMOUS),
    ("<unknown>", {"caller_number": "<unknown>"}, NO_HISTORY, {}, R.ANONYMOUS),
    ("restricted", {"caller_number": "restricted"}, NO_HISTORY, {}, R.ANONYMOUS),
    ("empty caller ID", {"caller_number": ""}, NO_HISTORY, {}, R.ANONYMOUS),
    ("short code", {"caller_number": "22395"}, NO_HISTORY, {}, R.SHORT_CODE),
    ("invalid", {"caller_number": "5550100"}, NO_HISTORY, {}, R.INVALID_NUMBER),
    ("invalid text", {"caller_number": "Pat Caller"}, NO_HISTORY, {}, R.INVALID_NUMBER),
    (
        "germany not allowed",
        {"caller_number": "+4915112345678"},
        NO_HISTORY,
        {},
        R.COUNTRY_NOT_ALLOWED,
    ),
    ("canada not allowed", {"caller_number": "5146710000"}, NO_HISTORY, {}, R.COUNTRY_NOT_ALLOWED),
    (
        "uk not in list",
        {"caller_number": "+447400123456"},
        NO_HISTORY,
        {"allowed_countries": ["US", "+1"]},
        R.COUNTRY_NOT_ALLOWED,
    ),
    ("toll-free 800", {"caller_number": "8005550100"}, NO_HISTORY, {}, R.TOLL_FREE),
    ("toll-free 1-888", {"caller_number": "1-888-555-0100"}, NO_HISTORY, {}, R.TOLL_FREE),
    ("premium 900", {"caller_number": "9005550100"}, NO_HISTORY, {}, R.PREMIUM),
    (
        "uk 0845",
        {"caller_number": "+448451234567"},
        NO_HISTORY,
        {"allowed_countries": ["*"]},
        R.PREMIUM,
    ),
    (
        "de shared cost",
        {"caller_number": "+4918012345"},
        NO_HISTORY,
        {"allowed_countries": ["*"]},
        R.SHARED_COST,
    ),
    ("uk uan", {"caller_number": "+443001234567"}, NO_HISTORY, {"allowed_countries": ["*"]}, R.UAN),
    (
        "uk personal",
        {"caller_number": "+447012345678"},
        NO_HISTORY,
        {"allowed_countries": ["*"]},
        R.PERSONAL_NUMBER,
    ),
    (
        "uk pager",
        {"caller_number": "+447640123456"},
        NO_HISTORY,
        {"allowed_countries": ["*"]},
        R.PAGER,
    ),
    (
        "de voicemail",
        {"caller_number": "+49177991234567"},
        NO_HISTORY,
        {"allowed_countries": ["*"]},
        R.VOICEMAIL_NUMBER,
    ),
    (
        "uk landline",
        {"caller_number": "+442079460123"},
        NO_HISTORY,
        {"allowed_countries": ["*"]},
        R.FIXED_LINE,
    ),
    (
        "voip when blocked",
        {"caller_number": "+445612345678"},
        NO_HISTORY,
        {"allowed_countries": ["*"], "block_number_types": ["voip"]},
        R.VOIP,
    ),
    (
        "misdial hang-up",
        {"reason": Reason.CALLER_HANGUP, "outcome": Outcome.MISSED_NO_VOICEMAIL, "duration": 1.5},
        NO_HISTORY,
        {},
        R.MISDIAL,
    ),
    (
        "misdial in ivr",
        {"reason": Reason.IVR_ONLY, "outcome": Outcome.MISSED_NO_VOICEMAIL, "duration": 3.9},
        NO_HISTORY,
        {"misdial_min_seconds": 4},
        R.MISDIAL,
    ),
    (
        "ivr excluded",
        {"reason": Reason.IVR_ONLY, "outcome": Outcome.MISSED_NO_VOICEMAIL, "duration": 20},
        NO_HISTORY,
        {"text_ivr_only": False},
        R.IVR_EXCLUDED,
    ),
    ("opted out", {}, history(opted_out=True), {}, R.OPTED_OUT),
    ("known landline", {}, history(sms_capable=False), {}, R.LANDLINE),
    ("answered since", {}, history(last_handled_at=NOON - 5), {}, R.ALREADY_HANDLED),
    ("called back", {}, history(last_handled_at=NOON + 30), {}, R.ALREADY_HANDLED),
    ("cooldown", {}, history(last_texted_at=NOON - 23 * HOUR, texts_last_24h=1), {}, R.COOLDOWN),
    (
        "short cooldown",
        {},
        history(last_texted_at=NOON - 1.5 * HOUR),
        {"cooldown_hours": 2},
        R.COOLDOWN,
    ),
    (
        "daily cap",
        {},
        history(last_texted_at=NOON - 3 * HOUR, texts_last_24h=3),
        {"cooldown_hours": 2},
        R.DAILY_CAP,
    ),
    (
        "daily cap of one",
        {},
        history(last_texted_at=NOON - 3 * HOUR, texts_last_24h=1),
        {"cooldown_hours": 0, "daily_cap": 1},
        R.DAILY_CAP,
    ),
    ("global rate", {}, history(rates_global=60), {}, R.RATE_LIMITED_GLOBAL),
    (
        "global rate configured",
        {},
        history(rates_global=5),
        {"global_rate_per_minute": 5},
        R.RATE_LIMITED_GLOBAL,
    ),
    ("prefix rate", {}, history(rates_prefix=10), {}, R.RATE_LIMITED_PREFIX),
    (
        "prefix rate configured",
        {},
        history(rates_prefix=2),
        {"per_prefix_rate_per_minute": 2},
        R.RATE_LIMITED_PREFIX,
    ),
]


@pytest.mark.parametrize(
    ("changes", "hist", "supp", "reason"),
    [pytest.param(*case[1:], id=case[0]) for case in SUPPRESSIONS],
)
def test_suppressions(
    changes: dict[str, Any], hist: ContactHistory, supp: dict[str, Any], reason: R
) -> None:
    config = settings(business=HOURS, suppression=supp)
    call = call_at(NOON - 1, **changes)
    decision = decide(call, hist, config, NOON)
    assert (decision.action, decision.reason) == (Action.SUPPRESS, reason), decision.detail
    assert decision.detail
    assert decision.template is None
    assert decision.send_at is None
    assert decision.routing is Routing.BUSINESS_HOURS


SENDS: list[tuple[str, dict[str, Any], ContactHistory, dict[str, Any]]] = [
    ("the trace call", {}, NO_HISTORY, {}),
    ("a long hang-up", {"reason": Reason.CALLER_HANGUP, "duration": 3.01}, NO_HISTORY, {}),
    ("short but no answer", {"reason": Reason.NO_ANSWER, "duration": 1.0}, NO_HISTORY, {}),
    ("misdial check off", {"reason": Reason.IVR_ONLY, "duration": 0.5}, NO_HISTORY,
     {"misdial_min_seconds": 0}),
    ("handled before this call", {}, history(last_handled_at=NOON - 3600), {}),
    ("cooldown over", {}, history(last_texted_at=NOON - 25 * HOUR, texts_last_24h=0), {}),
    ("under the cap", {}, history(last_texted_at=NOON - 3 * HOUR, texts_last_24h=2),
     {"cooldown_hours": 2}),
    ("rates below caps", {}, history(rates_global=59, rates_prefix=9), {}),
    ("rate caps off", {}, history(rates_global=10_000, rates_prefix=10_000),
     {"global_rate_per_minute": 0, "per_prefix_rate_per_minute": 0}),
    ("capable number", {}, history(sms_capable=True), {}),
    ("canada allowed", {"caller_number": "5146710000"}, NO_HISTORY,
     {"allowed_countries": ["US", "CA"]}),
    ("all of +1", {"caller_number": "+1 514 671 0000"}, NO_HISTORY, {"allowed_countries": ["+1"]}),
    ("toll-free allowed", {"caller_number": "8005550100"}, NO_HISTORY, {"block_number_types": []}),
    ("voip by default", {"caller_number": "+445612345678"}, NO_HISTORY,
     {"allowed_countries": ["*"]}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "hist", "supp"), [pytest.param(*case[1:], id=case[0]) for case in SENDS]
)
def test_sends(changes: dict[str, Any], hist: ContactHistory, supp: dict[str, Any]) -> None:
    config = settings(business=HOURS, suppression=supp)
    decision = decide(call_at(NOON - 1, **changes), hist, config, NOON)
    assert decision.action is Action.SEND, decision
    assert decision.send
    assert decision.reason is None
    assert decision.to is not None
    assert decision.to.startswith("+")


def test_the_most_fundamental_reason_wins() -> None:
    opted_out = history(opted_out=True, rates_global=1000)
    answered = call_at(NOON, outcome=Outcome.ANSWERED, reason=Reason.ANSWERED)
    assert decide(answered, opted_out, BASE, NOON).reason is R.ANSWERED
    internal = call_at(NOON, direction=Direction.INTERNAL, caller_number="anonymous")
    assert decide(internal, NO_HISTORY, BASE, NOON).reason is R.INTERNAL
    anonymous = call_at(NOON, caller_number="anonymous")
    assert decide(anonymous, opted_out, BASE, NOON).reason is R.ANONYMOUS


def test_answered_beats_excluded() -> None:
    # TEXTBACK=no on a route only matters for calls that would be texted.
    call = call_at(NOON, outcome=Outcome.ANSWERED, reason=Reason.ANSWERED, excluded=True)
    assert decide(call, NO_HISTORY, BASE, NOON).reason is R.ANSWERED
    excluded = call_at(NOON, excluded=True, caller_number="anonymous")
    assert decide(excluded, NO_HISTORY, BASE, NOON).reason is R.EXCLUDED_BY_DIALPLAN


def test_cooldown_applies_across_dids() -> None:
    # Texted about a call to DID 5550100 an hour ago; now calls the ring group's 5550200.
    texted = history(last_texted_at=NOON - HOUR, texts_last_24h=1)
    decision = decide(call_at(NOON, did="5550200"), texted, BASE, NOON)
    assert decision.reason is R.COOLDOWN
    assert decision.detail == "texted 1.0 h ago (cooldown_hours 24)"
    assert decision.to == "+12125550147"


@pytest.mark.parametrize(
    ("age_minutes", "action"),
    [(0, Action.SEND), (59, Action.SEND), (60, Action.SEND), (60.02, Action.SUPPRESS)],
)
def test_max_age(age_minutes: float, action: Action) -> None:
    decision = decide(call_at(NOON), NO_HISTORY, BASE, NOON + age_minutes * 60)
    assert decision.action is action
    if action is Action.SUPPRESS:
        assert decision.reason is R.EXPIRED


def test_max_age_is_configurable() -> None:
    config = settings(business=HOURS, suppression={"max_age_minutes": 5})
    assert decide(call_at(NOON), NO_HISTORY, config, NOON + 301).reason is R.EXPIRED
