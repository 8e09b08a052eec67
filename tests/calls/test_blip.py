"""A reconnect in the middle of a call: the call goes on being tracked, never lost or doubled.

The connection is "dropped" before every event of a real trace in turn: the tracker gets
the events before it, a resync with the channels alive at the reconnect (what
CoreShowChannels lists), then the rest (or the rest minus a few events lost in the outage).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asterisk_textback.calls.model import CallEnded, Outcome, Reason
from asterisk_textback.calls.settings import TrackerSettings
from asterisk_textback.calls.tracker import CallTracker
from tests.calls.helpers import Event, read_events

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MANIFEST = json.loads((FIXTURES / "traces" / "manifest.json").read_text())["traces"]
_SETTINGS = TrackerSettings(trunk_contexts=("from-trunk",), internal_contexts=("from-internal",))
MISSED = [
    "ringgroup-novm-caller-hangup-ringing.ami",
    "ringgroup-voicemail-left.ami",
    "local-ringgroup-voicemail-left.ami",
    "queue-timeout-voicemail-left.ami",
]
ANSWERED = ["ringgroup-answered.ami", "local-ringgroup-answered.ami", "queue-answered.ami"]


def _alive(events: list[Event], upto: int) -> frozenset[str]:
    live: dict[str, None] = {}
    for ev in events[:upto]:
        if ev["Event"] == "Newchannel":
            live[ev["Uniqueid"]] = None
        elif ev["Event"] == "Hangup":
            live.pop(ev.get("Uniqueid", ""), None)
    return frozenset(live)


def _blip(events: list[Event], at: int, lost: int) -> list[CallEnded]:
    """Drop before event ``at``; ``lost`` events happen unseen; reconnect; the rest."""
    tracker = CallTracker(_SETTINGS)
    out: list[CallEnded] = []
    clock = 1_800_000_000.0
    for ev in events[:at]:
        out += tracker.feed(ev, clock)
    out += tracker.resync(_alive(events, at + lost), clock)
    for ev in events[at + lost :]:
        out += tracker.feed(ev, clock)
    assert tracker.open_calls == 0
    return out


def _hook_index(events: list[Event]) -> int:
    return next(i for i, e in enumerate(events) if e.get("UserEvent") == "TextBack")


@pytest.mark.parametrize("name", MISSED)
def test_hook_decides_a_call_cut_at_every_event(name: str) -> None:
    events = read_events(FIXTURES / "hooked" / name)
    expected = MANIFEST[name]["calls"][0]
    for at in range(len(events) + 1):
        (call,) = _blip(events, at, 0)
        assert (call.outcome.value, call.caller_number) == (
            expected["outcome"],
            expected["caller_number"],
        ), at
        assert call.did == expected["did"], at


@pytest.mark.parametrize("name", MISSED)
def test_events_lost_in_the_outage_never_give_a_wrong_answer(name: str) -> None:
    events = read_events(FIXTURES / "hooked" / name)
    hook = _hook_index(events)
    expected = MANIFEST[name]["calls"][0]["outcome"]
    for at in range(len(events)):
        (call,) = _blip(events, at, 3)
        if at <= hook < at + 3:  # the report itself was lost: only the CDR can tell
            assert (call.outcome, call.reason) == (Outcome.UNKNOWN, Reason.CONNECTION_LOST)
        else:
            assert call.outcome.value == expected, at


@pytest.mark.parametrize("name", ANSWERED)
@pytest.mark.parametrize("lost", [0, 3])
def test_answered_call_is_never_missed_after_a_blip(name: str, lost: int) -> None:
    for folder in ("hooked", "traces"):
        events = read_events(FIXTURES / folder / name)
        for at in range(len(events)):
            (call,) = _blip(events, at, lost)
            assert call.outcome in (Outcome.ANSWERED, Outcome.UNKNOWN), (folder, at)


@pytest.mark.parametrize("name", MISSED)
def test_without_the_hook_a_cut_call_is_unknown_for_the_cdr_to_decide(name: str) -> None:
    events = read_events(FIXTURES / "traces" / name)
    first_dial = next(i for i, e in enumerate(events) if e["Event"] == "DialBegin")
    for at in range(first_dial, len(events)):
        calls = _blip(events, at, 0)
        # Once (never twice); unknown while it is not over, classified when it was.
        assert len(calls) == 1, at
        assert calls[0].outcome in (Outcome.UNKNOWN, Outcome(MANIFEST[name]["calls"][0]["outcome"]))


def test_a_call_begun_during_the_outage_is_followed_not_dropped() -> None:
    name = "ringgroup-novm-caller-hangup-ringing.ami"
    events = read_events(FIXTURES / "hooked" / name)
    first_dial = next(i for i, e in enumerate(events) if e["Event"] == "DialBegin")
    # The root's Newchannel and everything up to the first dial happened unseen.
    (call,) = _blip(events, 0, first_dial + 1)
    assert call.outcome.value == MANIFEST[name]["calls"][0]["outcome"]
