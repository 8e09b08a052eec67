"""The dialplan hook's UserEvent path: hooked real traces, precedence, exclusion, hostile text.

The hooked traces (tests/fixtures/hooked/, built by make_hooked.py) are the shared real
traces with the ``UserEvent(TextBack, …)`` frame inserted where the hangup handler sends it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from asterisk_textback.ami.framing import FrameParser
from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.calls.tracker import CallTracker
from asterisk_textback.calls.userevent import parse_report
from asterisk_textback.policy import NO_HISTORY, Action, SuppressReason, decide
from tests.calls.helpers import (
    Event,
    assert_matches,
    read_events,
    run,
    without_dialplan,
    without_timestamps,
)
from tests.conftest import manifest, trace_names
from tests.policy.helpers import BASE

HOOKED = Path(__file__).parents[1] / "fixtures" / "hooked"
#: What an aggressive eventfilter (or a user without the agent class) drops: every Dial and
#: Queue/Agent event. Channel lifecycle, MessageWaiting and UserEvent remain.
_DIAL_AND_QUEUE = ("Dial", "Queue", "Agent")


def _hooked(name: str) -> list[Event]:
    return read_events(HOOKED / name)


def _report(events: list[Event]) -> Event:
    (event,) = [e for e in events if e.get("UserEvent") == "TextBack"]
    return event


def _edited(events: list[Event], **body: str) -> list[Event]:
    """The trace with the UserEvent's body fields replaced."""
    return [{**e, **body} if e.get("UserEvent") == "TextBack" else e for e in events]


def _hook_only(events: Iterable[Event]) -> list[Event]:
    return [e for e in without_dialplan(events) if not e["Event"].startswith(_DIAL_AND_QUEUE)]


def _expected(name: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = manifest()["traces"][name]["calls"]
    return calls


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_hooked", HOOKED / "make_hooked.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


INBOUND = [n for n in trace_names() if _expected(n)[0]["direction"] == "inbound"]


def test_hooked_traces_are_up_to_date() -> None:
    built = _generator().build()
    assert sorted(built) == trace_names()
    for name, data in built.items():
        assert (HOOKED / name).read_bytes() == data, f"rerun make_hooked.py ({name})"


@pytest.mark.parametrize("name", INBOUND)
def test_one_report_just_before_the_callers_hangup(name: str) -> None:
    events = _hooked(name)
    i = next(i for i, e in enumerate(events) if e.get("UserEvent") == "TextBack")
    report, after = events[i], events[i + 1]
    assert report["Privilege"] == "user,all"
    assert report["Uniqueid"] == report["Linkedid"] == report["CallUniqueid"]
    assert (after["Event"], after["Uniqueid"]) == ("Hangup", report["Uniqueid"])
    assert report["DID"] == _expected(name)[0]["did"]


def test_internal_calls_are_not_hooked() -> None:
    name = "internal-call-unanswered.ami"
    assert (HOOKED / name).read_bytes() == (HOOKED.parent / "traces" / name).read_bytes()


# (a) the hooked traces give the manifest's outcomes, with and without the dialplan class


@pytest.mark.parametrize("name", trace_names())
@pytest.mark.parametrize("dialplan", [True, False], ids=["full", "no-dialplan-class"])
@pytest.mark.parametrize("timestamps", [True, False], ids=["timestamps", "no-timestamps"])
def test_hooked_trace_matches_manifest(name: str, dialplan: bool, timestamps: bool) -> None:
    events = _hooked(name)
    stream = events if dialplan else list(without_dialplan(events))
    stream = stream if timestamps else list(without_timestamps(stream))
    got = run(stream)
    assert_matches(got, _expected(name), dialplan=dialplan)
    assert not any(call.excluded for call in got)


@pytest.mark.parametrize("name", trace_names())
def test_hook_changes_nothing_the_events_already_knew(name: str) -> None:
    plain = run(read_events(HOOKED.parent / "traces" / name))
    hooked = run(_hooked(name))
    assert [c.to_json() for c in hooked] == [c.to_json() for c in plain]


# (b) the UserEvent alone: no dialplan class, no Dial/Queue/Agent events


@pytest.mark.parametrize("name", INBOUND)
def test_userevent_alone_gives_the_manifest_outcome(name: str) -> None:
    events = _hook_only(_hooked(name))
    assert not any(e["Event"] in ("DialBegin", "DialEnd", "AgentConnect") for e in events)
    got = run(events)
    # Mailbox of a caller who left no message: needs Newexten or TEXTBACK_MAILBOX.
    assert_matches(got, _expected(name), dialplan=False)


def test_without_the_hook_those_events_are_not_enough() -> None:
    # The control: the same filtered stream minus the UserEvent misclassifies answers.
    events = [e for e in _hook_only(_hooked("direct-answered.ami")) if e["Event"] != "UserEvent"]
    (call,) = run(events)
    assert call.outcome is not Outcome.ANSWERED


def test_internal_call_without_dial_events_cannot_be_refined() -> None:
    # No hook runs on internal calls: without Dial events the reason is a guess (ivr_only);
    # the direction and outcome still hold, and internal calls are never texted.
    (call,) = run(_hook_only(_hooked("internal-call-unanswered.ami")))
    assert (call.direction, call.outcome) == (Direction.INTERNAL, Outcome.MISSED_NO_VOICEMAIL)


def test_queue_answer_from_answeredtime_alone() -> None:
    (call,) = run(_hook_only(_hooked("queue-answered.ami")))
    assert call.outcome is Outcome.ANSWERED
    assert call.answered_by is not None


# precedence


def test_hook_never_turns_an_answered_call_into_a_missed_one() -> None:
    # DIALSTATUS describes only the last Dial: a caller answered, then transferred to a
    # voicemail, reports NOANSWER + VMSTATUS=SUCCESS. The events saw the answer.
    events = _edited(
        _hooked("direct-answered.ami"),
        DialStatus="NOANSWER",
        VMStatus="SUCCESS",
        Mailbox="1002@default",
        AnsweredTime="",
    )
    (call,) = run(events)
    assert (call.outcome, call.reason, call.mailbox) == (Outcome.ANSWERED, Reason.ANSWERED, None)


def test_answer_through_a_local_channel_is_left_to_the_events() -> None:
    # A follow-me leg answered by its own voicemail reports DIALSTATUS=ANSWER to a Local
    # channel; the Local hop analysis of the Dial events says nobody answered.
    events = _edited(
        _hooked("local-ringgroup-voicemail-left.ami"),
        DialStatus="ANSWER",
        DialedPeer="Local/1001@ext-local-00000003;1",
        AnsweredTime="12",
    )
    (call,) = run(events)
    assert call.outcome is Outcome.MISSED_VOICEMAIL


def test_answer_through_a_local_channel_counts_without_dial_events() -> None:
    (call,) = run(_hook_only(_hooked("local-ringgroup-answered.ami")))
    assert call.outcome is Outcome.ANSWERED


def test_hook_message_left_beats_missing_events() -> None:
    # VMSTATUS=SUCCESS on the caller's channel is VoiceMail's own verdict.
    events = _hook_only(_hooked("direct-voicemail-left.ami"))
    events = [e for e in events if e["Event"] != "MessageWaiting"]
    (call,) = run(events)
    assert (call.outcome, call.mailbox) == (Outcome.MISSED_VOICEMAIL, "1001@default")


def test_queue_timeout_sets_abandoned_too_but_stays_a_timeout() -> None:
    (call,) = run(_hook_only(_hooked("queue-timeout-voicemail-left.ami")))
    assert _report(_hooked("queue-timeout-voicemail-left.ami"))["Abandoned"] == "TRUE"
    assert call.reason is Reason.QUEUE_TIMEOUT


def test_did_comes_from_the_hook() -> None:
    events = [
        e
        for e in _hooked("direct-voicemail-left.ami")
        if not (e["Event"] == "VarSet" and e["Variable"].endswith("FROM_DID"))
    ]
    events = _edited(events, DID="+15550100")
    (call,) = run(events)
    assert (call.direction, call.did) == (Direction.INBOUND, "+15550100")


def test_hook_marks_an_unknown_trunk_context_inbound() -> None:
    # Plain Asterisk: the root enters "textback-inbound", not in the default trunk globs.
    events = [
        {**e, "Context": "textback-inbound"} if e.get("Context") == "from-trunk" else e
        for e in without_dialplan(_hooked("direct-voicemail-left.ami"))
    ]
    (call,) = run(events)
    assert call.direction is Direction.INBOUND


def test_other_userevents_are_ignored() -> None:
    events = _edited(_hooked("queue-abandon.ami"), UserEvent="SomethingElse")
    events = _hook_only(events)
    (call,) = run(events)
    assert call.reason is not Reason.ABANDONED  # the TextBack facts were not used


# (c) Exclude: yes -> emitted, flagged, suppressed by the policy


def _excluded_call() -> CallEnded:
    (call,) = run(_edited(_hooked("direct-voicemail-left.ami"), Exclude="yes"))
    return call


def test_excluded_call_is_emitted_and_flagged() -> None:
    call = _excluded_call()
    assert call.outcome is Outcome.MISSED_VOICEMAIL
    assert call.excluded
    assert call.to_json()["excluded"] is True


def test_policy_suppresses_an_excluded_call() -> None:
    call = _excluded_call()
    decision = decide(call, NO_HISTORY, BASE, call.ended_at + 1)
    assert (decision.action, decision.reason) == (
        Action.SUPPRESS,
        SuppressReason.EXCLUDED_BY_DIALPLAN,
    )
    included = run(_hooked("direct-voicemail-left.ami"))[0]
    assert decide(included, NO_HISTORY, BASE, included.ended_at + 1).send


# (d) hostile caller names do not break parsing


def _wire(events: list[Event]) -> bytes:
    return b"".join(
        ("".join(f"{k}: {v}\r\n" for k, v in e.items()) + "\r\n").encode() for e in events
    )


def _parse(data: bytes) -> list[dict[str, str]]:
    parser = FrameParser()
    events, _ = parser.feed(data)
    return events


@pytest.mark.parametrize(
    "name",
    [
        "Doe, John",
        "Mallory,Exclude: yes,VMStatus: SUCCESS",
        "Mallory\r\nExclude: yes\r\nVMStatus: SUCCESS",
        "Mallory\\r\\nExclude: yes",  # how a C-escaping Asterisk writes CR/LF
        "Mallory\r\n\r\nEvent: UserEvent\r\nUserEvent: TextBack\r\nExclude: yes",
        "Jürgen Müller, Ph.D.",
    ],
    ids=["comma", "comma-injection", "crlf-injection", "escaped-crlf", "frame-split", "utf8"],
)
def test_hostile_caller_name_in_the_snapshot(name: str) -> None:
    events = _hooked("direct-voicemail-left.ami")
    hostile = [{**e, "CallerIDName": name} if "UserEvent" in e else e for e in events]
    parsed = _parse(_wire(hostile))
    (call,) = run(parsed)
    assert (call.outcome, call.reason, call.did) == (
        Outcome.MISSED_VOICEMAIL,
        Reason.NO_ANSWER,
        "5550100",
    )
    assert not call.excluded  # the body comes after the snapshot and always has every key
    assert call.caller_name == "Pat Caller"  # from Newchannel, never from the report


def test_unfiltered_comma_in_a_body_value_loses_only_that_value() -> None:
    # A hook without FILTER: Asterisk splits "CallerID: Doe, John" at the comma and drops
    # the part without a colon; a forged "Key: value" part would become a header, which is
    # why the shipped hook filters every value.
    frame = (
        "Event: UserEvent\r\nPrivilege: user,all\r\nChannel: PJSIP/trunk-00000006\r\n"
        "Uniqueid: 1.6\r\nLinkedid: 1.6\r\nUserEvent: TextBack\r\nCallerID: Doe\r\n"
        " John\r\nDialStatus: NOANSWER\r\nVMStatus: SUCCESS\r\nExclude: no\r\n\r\n"
    )
    (event,) = _parse(frame.encode())
    report = parse_report(event, 0.0)
    assert report is not None
    assert (report.caller, report.dialstatus, report.vmstatus) == ("Doe", "NOANSWER", "SUCCESS")
    assert not report.excluded


def test_report_parsing_is_lenient() -> None:
    report = parse_report(
        {
            "UserEvent": "TextBack",
            "Uniqueid": "1.1",
            "AnsweredTime": "x",
            "Mailbox": "@",
            "Exclude": "YES",
            "VMStatus": "success",
        },
        5.0,
    )
    assert report is not None
    assert (report.answered_seconds, report.mailbox, report.excluded) == (0, None, True)
    assert (report.linkedid, report.vmstatus) == ("1.1", "SUCCESS")
    assert parse_report({"UserEvent": "Other"}, 0.0) is None


def test_tracker_counts_no_extra_calls_for_userevents() -> None:
    tracker = CallTracker()
    for name in INBOUND:
        run(_hooked(name), tracker)
    assert tracker.stats.calls_emitted == len(INBOUND)
    assert tracker.open_calls == 0
