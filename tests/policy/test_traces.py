"""The recorded Asterisk traces, through the real tracker and then the policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from asterisk_textback.policy import NO_HISTORY, PolicySettings, decide
from tests.calls.helpers import read_events, run
from tests.conftest import TRACES, trace_names
from tests.policy.helpers import local

# Trace -> (action, reason or template, send time in the caller's zone or None). The traces
# were recorded around 11:00 UTC: before 08:00 anywhere in the US, so every text waits for
# the caller's own morning (quiet hours), which differs by area code.
EXPECTED: dict[str, tuple[str, str, str | None]] = {
    "anonymous-caller-hangup-ringing.ami": ("suppress", "anonymous", None),
    "direct-answered.ami": ("suppress", "answered", None),
    "direct-busy-voicemail-left.ami": ("send", "missed_voicemail", "America/New_York"),
    "direct-caller-hangup-ringing.ami": ("send", "missed_no_voicemail", "America/New_York"),
    "direct-voicemail-hangup-in-greeting.ami": (
        "send",
        "missed_no_voicemail",
        "America/Los_Angeles",
    ),
    "direct-voicemail-left.ami": ("send", "missed_voicemail", "America/New_York"),
    "internal-call-unanswered.ami": ("suppress", "internal", None),
    "local-ringgroup-answered.ami": ("suppress", "answered", None),
    "local-ringgroup-voicemail-left.ami": ("send", "missed_voicemail", "America/New_York"),
    "queue-abandon.ami": ("send", "queue_abandon", "America/Los_Angeles"),
    "queue-answered.ami": ("suppress", "answered", None),
    "queue-timeout-voicemail-left.ami": ("send", "missed_voicemail", "America/Los_Angeles"),
    "ringgroup-answered.ami": ("suppress", "answered", None),
    "ringgroup-novm-caller-hangup-ringing.ami": (
        "send",
        "missed_no_voicemail",
        "America/Chicago",
    ),
    "ringgroup-voicemail-left.ami": ("send", "missed_voicemail", "America/Los_Angeles"),
}
#: Callers whose state opens later than the federal 08:00 (the default is "strict"): this
#: one calls from a Texas number on a Friday, and Texas allows texts from 09:00.
OPENS = {"ringgroup-novm-caller-hangup-ringing.ami": "T09:00"}


def test_every_trace_has_an_expectation() -> None:
    assert sorted(EXPECTED) == trace_names()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_trace_decisions_with_defaults(name: str) -> None:
    # As `replay --dry-run` does it: built-in defaults, empty history, now = the call's end.
    calls = run(read_events(Path(TRACES) / name))
    assert len(calls) == 1
    call = calls[0]
    decision = decide(call, NO_HISTORY, PolicySettings(), call.ended_at)
    action, what, zone = EXPECTED[name]
    assert str(decision.action) == action
    if action == "suppress":
        assert str(decision.reason) == what
        return
    assert decision.template == what
    assert decision.deferred
    assert decision.send_at is not None
    assert zone is not None
    assert local(decision.send_at, zone).endswith(OPENS.get(name, "T08:00"))
