"""Hook version 2 on real traces: the spoken disclosure and the caller ID verification.

The traces in tests/fixtures/verified/ (built by make_verified.py) are the hooked real
traces with a version 2 report, and for the disclosure cases the prompt played before the
phone rang (the caller's channel answered by the PBX first, or early media).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from asterisk_textback.calls.model import CallEnded, Outcome, Reason
from asterisk_textback.calls.verification import CallerVerification
from asterisk_textback.cli.main import main
from asterisk_textback.policy import NO_HISTORY, Action, SuppressReason, decide
from asterisk_textback.policy.settings import PolicySettings
from tests.calls.helpers import Event, read_events, run, without_dialplan, without_timestamps
from tests.conftest import manifest
from tests.policy.helpers import HOURS, settings

VERIFIED = Path(__file__).parents[1] / "fixtures" / "verified"
HOOKED = VERIFIED.parent / "hooked"
P, F, N = CallerVerification.PASSED, CallerVerification.FAILED, CallerVerification.NONE
#: file -> (caller_verification, disclosure_played)
EXPECTED: dict[str, tuple[CallerVerification, bool]] = {
    "stir-passed.ami": (P, False),
    "stir-failed.ami": (F, False),
    "stir-disabled-verstat-failed.ami": (F, False),
    "verstat-passed.ami": (P, False),
    "verstat-failed.ami": (F, False),
    "verstat-none.ami": (N, False),
    "verstat-absent.ami": (N, False),
    "verstat-junk.ami": (N, False),
    "disclosure-voicemail-left.ami": (N, True),
    "disclosure-caller-hangup.ami": (N, True),
    "disclosure-greeting-hangup.ami": (N, True),
    "disclosure-early-voicemail-left.ami": (N, True),
}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_verified", VERIFIED / "make_verified.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _source(name: str) -> str:
    source: str = _generator().CASES[name][0]
    return source


def _manifest_call(name: str) -> dict[str, Any]:
    calls: list[dict[str, Any]] = manifest()["traces"][_source(name)]["calls"]
    return calls[0]


def _call(events: list[Event]) -> CallEnded:
    (call,) = run(events)
    return call


def _policy(mode: str) -> PolicySettings:
    return settings(business=HOURS, suppression={"caller_verification": mode})


def _decide(call: CallEnded, mode: str) -> tuple[Action, SuppressReason | None]:
    decision = decide(call, NO_HISTORY, _policy(mode), call.ended_at + 1)
    return decision.action, decision.reason


def test_verified_traces_are_up_to_date() -> None:
    built = _generator().build()
    assert sorted(built) == sorted(EXPECTED)
    for name, data in built.items():
        assert (VERIFIED / name).read_bytes() == data, f"rerun make_verified.py ({name})"


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("variant", ["as-recorded", "no-dialplan-class", "no-timestamps"])
def test_report_v2_is_stored_on_the_call(name: str, variant: str) -> None:
    events = read_events(VERIFIED / name)
    if variant == "no-dialplan-class":
        events = list(without_dialplan(events))
    elif variant == "no-timestamps":
        events = list(without_timestamps(events))
    call = _call(events)
    expected = _manifest_call(name)
    # The new keys change nothing the call was classified as.
    assert (str(call.outcome), str(call.reason), call.did, call.caller_number) == (
        expected["outcome"],
        expected["reason"],
        expected["did"],
        expected["caller_number"],
    )
    verification, disclosed = EXPECTED[name]
    assert call.caller_verification is verification
    assert call.disclosure_played is disclosed
    data = call.to_json()
    assert data["caller_verification"] == str(verification)
    assert data["disclosure_played"] is disclosed


def test_a_version_1_report_reports_neither() -> None:
    call = _call(read_events(HOOKED / "direct-voicemail-left.ami"))
    assert (call.caller_verification, call.disclosure_played) == (None, False)
    assert call.to_json()["caller_verification"] is None


# The disclosure answers the caller's channel: the call must still be missed.


@pytest.mark.parametrize(
    ("name", "outcome", "reason"),
    [
        ("disclosure-voicemail-left.ami", Outcome.MISSED_VOICEMAIL, Reason.NO_ANSWER),
        ("disclosure-caller-hangup.ami", Outcome.MISSED_NO_VOICEMAIL, Reason.CALLER_HANGUP),
        ("disclosure-early-voicemail-left.ami", Outcome.MISSED_VOICEMAIL, Reason.NO_ANSWER),
    ],
)
def test_an_answered_announcement_is_not_an_answered_call(
    name: str, outcome: Outcome, reason: Reason
) -> None:
    events = read_events(VERIFIED / name)
    ups = [e for e in events if e["Event"] == "Newstate" and e.get("ChannelStateDesc") == "Up"]
    root = events[0]["Uniqueid"]
    if "early" not in name:
        # The caller's channel is Up before any phone rings (the prompt answered it).
        (up,) = [e for e in ups if e["Uniqueid"] == root]
        first_ring = next(e for e in events if e["Event"] == "DialBegin")
        assert events.index(up) < events.index(first_ring)
    no_hook = [e for e in events if e.get("UserEvent") != "TextBack"]
    no_dial = [e for e in without_dialplan(events) if not e["Event"].startswith("Dial")]
    for stream in (events, no_hook, list(without_dialplan(no_hook)), no_dial):
        call = _call(stream)
        assert call.outcome is outcome, call.to_json()
        assert call.answered_by is None
    assert _call(events).reason is reason
    assert _call(list(without_dialplan(no_hook))).reason is reason
    # A missed call with the disclosure is texted like any other.
    assert _decide(_call(events), "not_failed")[0] is Action.SEND


def test_greeting_hang_up_after_the_prompt() -> None:
    # VoiceMail finds the channel already up: without the dialplan class and the hook
    # nothing shows that VoiceMail ran, so the reason falls back to the dial round's.
    events = read_events(VERIFIED / "disclosure-greeting-hangup.ami")
    no_hook = [e for e in events if e.get("UserEvent") != "TextBack"]
    for stream in (events, list(without_dialplan(events)), no_hook):
        call = _call(stream)
        assert (call.outcome, call.reason) == (
            Outcome.MISSED_NO_VOICEMAIL,
            Reason.VOICEMAIL_NO_MESSAGE,
        )
    blind = _call(list(without_dialplan(no_hook)))
    assert (blind.outcome, blind.reason) == (Outcome.MISSED_NO_VOICEMAIL, Reason.NO_ANSWER)
    assert _decide(blind, "not_failed")[0] is Action.SEND


def test_a_prompt_cut_short_is_not_a_disclosure() -> None:
    # The caller hung up during Playback: the dialplan stops before the Set, so the handler
    # reports "Disclosure: no".
    events = read_events(VERIFIED / "disclosure-caller-hangup.ami")
    cut = [{**e, "Disclosure": "no"} if e.get("UserEvent") == "TextBack" else e for e in events]
    assert not _call(cut).disclosure_played


# suppression.caller_verification


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_policy_by_mode(name: str) -> None:
    call = _call(read_events(VERIFIED / name))
    verification = EXPECTED[name][0]
    refused = (Action.SUPPRESS, SuppressReason.CALLER_NOT_VERIFIED)
    sent = (Action.SEND, None)
    assert _decide(call, "off") == sent
    assert _decide(call, "not_failed") == (refused if verification is F else sent)
    assert _decide(call, "passed") == (sent if verification is P else refused)


def test_default_is_not_failed() -> None:
    assert PolicySettings().suppression.caller_verification == "not_failed"
    failed = _call(read_events(VERIFIED / "stir-failed.ami"))
    decision = decide(failed, NO_HISTORY, settings(business=HOURS), failed.ended_at + 1)
    assert decision.reason is SuppressReason.CALLER_NOT_VERIFIED
    assert "failed verification" in decision.detail


def test_no_report_is_texted_unless_passed_is_required() -> None:
    call = _call(read_events(HOOKED / "direct-voicemail-left.ami"))
    assert _decide(call, "not_failed") == (Action.SEND, None)
    decision = decide(call, NO_HISTORY, _policy("passed"), call.ended_at + 1)
    assert decision.reason is SuppressReason.CALLER_NOT_VERIFIED
    assert "not reported" in decision.detail


def test_answered_and_excluded_keep_their_own_reason() -> None:
    # The more fundamental reason wins: an answered caller is "answered" whatever his ID.
    answered = _call(read_events(HOOKED / "direct-answered.ami"))
    assert _decide(answered, "passed") == (Action.SUPPRESS, SuppressReason.ANSWERED)


def test_hostile_name_cannot_forge_the_verification() -> None:
    # The snapshot (with the caller's name) comes before the body, which always carries
    # every key: a forged "StirShaken: success" in the name is overridden.
    from tests.calls.test_userevent import _parse, _wire

    events = read_events(VERIFIED / "stir-failed.ami")
    name = "Mallory\r\nStirShaken: success\r\nDisclosure: yes"
    hostile = [{**e, "CallerIDName": name} if "UserEvent" in e else e for e in events]
    call = _call(_parse(_wire(hostile)))
    assert (call.caller_verification, call.disclosure_played) == (F, False)


def test_invalid_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="caller_verification"):
        _policy("strict")


# The command a user runs


def _dry_run(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main(["replay", "--json", "--dry-run", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_replay_dry_run_shows_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    # One replay per source recording: the tracker reports each Linkedid once.
    names = ("stir-failed.ami", "verstat-failed.ami", "verstat-none.ami")
    failed, verstat_failed, none = _dry_run(capsys, *(str(VERIFIED / n) for n in names))
    (passed,) = _dry_run(capsys, str(VERIFIED / "stir-passed.ami"))
    assert failed["caller_verification"] == "failed"
    assert failed["decision"]["action"] == "suppress"
    assert failed["decision"]["reason"] == "caller_not_verified"
    assert "failed verification" in failed["decision"]["detail"]
    assert verstat_failed["decision"]["reason"] == "caller_not_verified"
    assert passed["caller_verification"] == "passed"
    assert (passed["decision"]["action"], passed["decision"]["reason"]) == ("send", None)
    assert none["decision"]["action"] == "send"


def test_replay_dry_run_in_passed_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text('[suppression]\ncaller_verification = "passed"\n')
    names = ("verstat-none.ami", "verstat-passed.ami", "disclosure-voicemail-left.ami")
    none, passed, disclosed = _dry_run(capsys, "-c", str(cfg), *(str(VERIFIED / n) for n in names))
    assert none["decision"]["reason"] == "caller_not_verified"
    assert "not verified" in none["decision"]["detail"]
    assert passed["decision"]["action"] == "send"
    assert disclosed["disclosure_played"] is True
    assert disclosed["decision"]["reason"] == "caller_not_verified"
