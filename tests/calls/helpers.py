"""Feed recorded traces straight into a tracker (no sockets): the fast, synchronous path."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from asterisk_textback.calls.model import CallEnded
from asterisk_textback.calls.tracker import CallTracker

Event = dict[str, str]


def read_events(path: Path) -> list[Event]:
    """Parse a recorded ``.ami`` file into event dicts, in wire order."""
    events = []
    for block in path.read_bytes().decode("utf-8").split("\r\n\r\n"):
        ev: Event = {}
        for line in block.split("\r\n"):
            key, sep, value = line.partition(": ")
            if sep:
                ev[key] = value
            elif line.endswith(":"):
                ev[line[:-1]] = ""
        if "Event" in ev:
            events.append(ev)
    return events


def without_dialplan(events: Iterable[Event]) -> Iterator[Event]:
    """What an AMI user without the ``dialplan`` read class receives."""
    return (e for e in events if "dialplan" not in e.get("Privilege", ""))


def without_timestamps(events: Iterable[Event]) -> Iterator[Event]:
    """What Asterisk sends with ``timestampevents = no`` (the default)."""
    return ({k: v for k, v in e.items() if k != "Timestamp"} for e in events)


def run(events: Iterable[Event], tracker: CallTracker | None = None) -> list[CallEnded]:
    """Feed events (receive clock ticking 1 ms per event) and collect finished calls."""
    tracker = tracker or CallTracker()
    out: list[CallEnded] = []
    for i, ev in enumerate(events):
        out.extend(tracker.feed(ev, 1_800_000_000.0 + i / 1000))
    return out


def assert_matches(got: list[CallEnded], expected: list[dict[str, Any]], *, dialplan: bool) -> None:
    """Every manifest field must match; mailbox of a no-message call needs Newexten."""
    assert len(got) == len(expected), [c.to_json() for c in got]
    for call, exp in zip(got, expected, strict=True):
        data = call.to_json()
        for key, value in exp.items():
            if key == "mailbox" and not dialplan and exp["outcome"] != "missed_voicemail":
                continue  # which mailbox a caller hung up in is only visible in Newexten
            assert data[key] == value, f"{key}: got {data[key]!r}, manifest says {value!r}"
        if "mailbox" not in exp:
            assert data["mailbox"] is None
