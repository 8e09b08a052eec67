"""Every shared real-Asterisk trace is classified exactly as manifest.json says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.calls.helpers import (
    assert_matches,
    read_events,
    run,
    without_dialplan,
    without_timestamps,
)
from tests.conftest import manifest, trace_names


@pytest.mark.parametrize("name", trace_names())
@pytest.mark.parametrize("dialplan", [True, False], ids=["full", "no-dialplan-class"])
@pytest.mark.parametrize("timestamps", [True, False], ids=["timestamps", "no-timestamps"])
def test_trace_matches_manifest(
    traces_dir: Path, name: str, dialplan: bool, timestamps: bool
) -> None:
    events = read_events(traces_dir / name)
    stream = events if dialplan else list(without_dialplan(events))
    stream = stream if timestamps else list(without_timestamps(stream))
    got = run(stream)
    assert_matches(got, manifest()["traces"][name]["calls"], dialplan=dialplan)


def test_dialplan_stripping_removes_half_the_traffic(traces_dir: Path) -> None:
    events = [e for n in trace_names() for e in read_events(traces_dir / n)]
    kept = list(without_dialplan(events))
    assert len(kept) < 0.6 * len(events)
    assert not any(e["Event"] in ("Newexten", "VarSet") for e in kept)


def test_started_and_ended_come_from_asterisk_timestamps(traces_dir: Path) -> None:
    (call,) = run(read_events(traces_dir / "direct-answered.ami"))
    assert call.started_at == pytest.approx(1795756462.396460)
    assert call.ended_at == pytest.approx(1795756469.413615)
    assert call.ring_seconds == pytest.approx(2.005, abs=0.01)
    assert call.answered_by == "PJSIP/1001"
