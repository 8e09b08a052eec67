"""Tracker behaviour beyond the manifest: outages, eviction, merges, pickups, bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from asterisk_textback.calls.model import Direction, Outcome, Reason
from asterisk_textback.calls.settings import TrackerSettings
from asterisk_textback.calls.tracker import CallTracker
from tests.calls.helpers import read_events, run, without_dialplan


def _split_at_first(events: list[dict[str, str]], name: str) -> int:
    return next(i for i, e in enumerate(events) if e["Event"] == name)


def test_drop_then_gone_emits_unknown_once(traces_dir: Path) -> None:
    events = read_events(traces_dir / "direct-voicemail-left.ami")
    cut = _split_at_first(events, "DialBegin")
    tracker = CallTracker()
    assert run(events[:cut], tracker) == []
    (lost,) = tracker.resync(frozenset(), now=1_800_000_100.0)
    assert (lost.outcome, lost.reason) == (Outcome.UNKNOWN, Reason.CONNECTION_LOST)
    assert lost.direction is Direction.INBOUND
    # Whatever arrives later about that call is ignored: never a second record.
    assert run(events[cut:], tracker) == []
    assert tracker.open_calls == 0


def test_drop_while_ringing_call_still_alive_is_unknown_not_missed(traces_dir: Path) -> None:
    events = read_events(traces_dir / "direct-caller-hangup-ringing.ami")
    cut = _split_at_first(events, "DialState")
    tracker = CallTracker()
    run(events[:cut], tracker)
    alive = frozenset(
        u for e in events[:cut] if (u := e.get("Uniqueid", "")).startswith("17957564")
    )
    assert tracker.resync(alive, now=0.0) == []
    (call,) = run(events[cut:], tracker)
    # The outage may have hidden an answer: never text on a guess.
    assert (call.outcome, call.reason) == (Outcome.UNKNOWN, Reason.CONNECTION_LOST)


def test_drop_after_answer_stays_answered(traces_dir: Path) -> None:
    events = read_events(traces_dir / "direct-answered.ami")
    cut = _split_at_first(events, "BridgeEnter")
    tracker = CallTracker()
    run(events[:cut], tracker)
    alive = frozenset({"1795756462.8", "1795756462.9"})
    assert tracker.resync(alive, now=0.0) == []
    (call,) = run(events[cut:], tracker)
    assert call.outcome is Outcome.ANSWERED


def test_ttl_eviction_bounds_memory(traces_dir: Path) -> None:
    events = read_events(traces_dir / "queue-abandon.ami")
    cut = _split_at_first(events, "HangupRequest")
    tracker = CallTracker(TrackerSettings(call_ttl_seconds=60))
    run(events[:cut], tracker)
    assert tracker.open_calls == 1
    assert tracker.evict(now=1795756579.0 + 30) == []
    (call,) = tracker.evict(now=1795756579.0 + 61)
    assert (call.outcome, call.reason) == (Outcome.UNKNOWN, Reason.EVICTED)
    assert tracker.open_calls == 0
    assert run(events[cut:], tracker) == []


def test_open_call_cap_evicts_oldest(traces_dir: Path) -> None:
    events = read_events(traces_dir / "direct-answered.ami")
    newchannel = events[0]
    tracker = CallTracker(TrackerSettings(max_open_calls=10))
    for i in range(15):
        uid = f"1795756462.{1000 + i}"
        tracker.feed({**newchannel, "Uniqueid": uid, "Linkedid": uid}, 0.0)
    evicted = tracker.evict(now=float(newchannel["Timestamp"]))
    assert [c.linkedid for c in evicted] == [f"1795756462.{1000 + i}" for i in range(5)]
    assert tracker.open_calls == 10


def test_call_joined_mid_way_is_dropped_and_counted(traces_dir: Path) -> None:
    # direct-caller-hangup-ringing.ami starts with the tail of an earlier call.
    tracker = CallTracker()
    calls = run(read_events(traces_dir / "direct-caller-hangup-ringing.ami"), tracker)
    assert [c.linkedid for c in calls] == ["1795756407.4"]
    assert tracker.stats.partial_dropped == 1


def test_linkedid_move_follows_the_channel(traces_dir: Path) -> None:
    """A bridge that merges calls moves a channel to the older Linkedid."""
    a = read_events(traces_dir / "direct-answered.ami")
    b = read_events(traces_dir / "internal-call-unanswered.ami")
    tracker = CallTracker()
    cut_b = _split_at_first(b, "HangupRequest")
    run(a[: _split_at_first(a, "HangupRequest")], tracker)
    run(b[:cut_b], tracker)
    # 1002's ringing leg of call b gets the Linkedid of call a, then b's caller hangs up.
    last_1002 = next(e for e in reversed(b[:cut_b]) if e.get("Uniqueid") == "1795756682.45")
    moved = {**last_1002, "Linkedid": "1795756462.8"}
    out = tracker.feed(moved, 0.0)
    assert out == []
    rest = [e for e in b[cut_b:] if e.get("Uniqueid") != "1795756682.45"]
    (internal,) = run(rest, tracker)
    assert internal.linkedid == "1795756682.44"
    assert internal.direction is Direction.INTERNAL
    done = run(a[_split_at_first(a, "HangupRequest") :], tracker)
    assert done == []  # call a still has the moved 1002 channel
    hangup_1002 = {**moved, "Event": "Hangup", "Cause": "16"}
    (inbound,) = tracker.feed(hangup_1002, 0.0)
    assert inbound.linkedid == "1795756462.8"
    assert inbound.outcome is Outcome.ANSWERED


def test_pickup_counts_as_answered(traces_dir: Path) -> None:
    events = read_events(traces_dir / "ringgroup-novm-caller-hangup-ringing.ami")
    ringing = next(
        e for e in events if e["Event"] == "Newstate" and e["ChannelStateDesc"] == "Ringing"
    )
    pickup = {
        "Event": "Pickup",
        "Privilege": "call,all",
        "Channel": "PJSIP/1003-00000099",
        "Uniqueid": "1795756999.1",
        "Linkedid": "1795756999.1",
        "TargetChannel": ringing["Channel"],
        "TargetUniqueid": ringing["Uniqueid"],
        "TargetLinkedid": ringing["Linkedid"],
    }
    at = events.index(ringing) + 1
    (call,) = run([*events[:at], pickup, *events[at:]])
    assert call.outcome is Outcome.ANSWERED
    assert call.answered_by == "PJSIP/1003"


def _mwi_case(traces_dir: Path, before: tuple[int, int], during: tuple[int, int]) -> Outcome:
    events = list(without_dialplan(read_events(traces_dir / "direct-voicemail-left.ami")))
    at = next(i for i, e in enumerate(events) if e["Event"] == "MessageWaiting")
    mwi = events[at]
    events[at] = {**mwi, "New": str(during[0]), "Old": str(during[1])}
    earlier = {k: v for k, v in mwi.items() if k in ("Event", "Privilege", "Mailbox", "Waiting")}
    tracker = CallTracker()
    tracker.feed({**earlier, "New": str(before[0]), "Old": str(before[1])}, 0.0)
    (call,) = run(events, tracker)
    return call.outcome


def test_mwi_after_a_listen_is_not_a_message(traces_dir: Path) -> None:
    """MessageWaiting also fires when someone leaves VoiceMailMain: old count went up."""
    assert _mwi_case(traces_dir, (3, 1), (2, 2)) is Outcome.MISSED_NO_VOICEMAIL


def test_mwi_with_fewer_new_after_deletes_is_still_a_message(traces_dir: Path) -> None:
    """Messages deleted since we last looked: a lower new count is still a deposit."""
    assert _mwi_case(traces_dir, (5, 0), (1, 0)) is Outcome.MISSED_VOICEMAIL


def test_voicemailmain_on_the_call_disables_mwi(traces_dir: Path) -> None:
    events = read_events(traces_dir / "direct-voicemail-left.ami")
    vm = next(e for e in events if e.get("Application") == "VoiceMail")
    events = [
        {**e, "Application": "VoiceMailMain"} if e is vm else e
        for e in events
        if not (e["Event"] == "VarSet" and e["Variable"] == "VMSTATUS")
    ]
    (call,) = run(events)
    assert call.outcome is Outcome.MISSED_NO_VOICEMAIL


def test_malformed_values_are_counted_not_fatal(traces_dir: Path) -> None:
    events = read_events(traces_dir / "direct-busy-voicemail-left.ami")
    broken = [{**e, "Timestamp": "yesterday"} if i == 3 else e for i, e in enumerate(events)]
    mwi = next(i for i, e in enumerate(broken) if e["Event"] == "MessageWaiting")
    broken[mwi] = {**broken[mwi], "New": "many"}
    tracker = CallTracker()
    (call,) = run([{"Event": "Hangup"}, {"Nothing": "here"}, *broken], tracker)
    assert tracker.stats.malformed == 2
    # VMSTATUS=SUCCESS still says a message was left.
    assert call.outcome is Outcome.MISSED_VOICEMAIL


def test_unknown_root_context_warns_once_and_is_never_inbound(
    traces_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Without the dialplan class there is no FROM_DID to rescue a misconfigured trunk context.
    events = list(without_dialplan(read_events(traces_dir / "direct-caller-hangup-ringing.ami")))
    settings = TrackerSettings(trunk_contexts=("from-carrier",))
    caplog.set_level(logging.WARNING)
    tracker = CallTracker(settings)
    (call,) = run(events, tracker)
    other = read_events(traces_dir / "anonymous-caller-hangup-ringing.ami")
    (again,) = run(without_dialplan(other), tracker)
    assert call.direction is Direction.OUTBOUND is again.direction
    assert sum("from-trunk" in r.getMessage() for r in caplog.records) == 1
    assert tracker.stats.unknown_contexts == {"from-trunk"}


def test_configured_trunk_context_makes_it_inbound(traces_dir: Path) -> None:
    settings = TrackerSettings(trunk_contexts=("FROM-TRUNK",), internal_contexts=("x",))
    (call,) = run(read_events(traces_dir / "direct-answered.ami"), CallTracker(settings))
    assert call.direction is Direction.INBOUND
