"""Trace files: reading, stripping, cloning with fresh ids and interleaving."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from asterisk_textback.ami.framing import parse_frame
from asterisk_textback.ami.sim.tracefile import (
    clone,
    frame_timestamp,
    interleave,
    read_trace,
    strip_headers,
    strip_privilege_class,
)
from asterisk_textback.errors import TraceError
from tests.conftest import TRACES, trace_names

ID_KEYS = re.compile(r"(Uniqueid|Linkedid)$")


def headers(frame: bytes) -> dict[str, str]:
    """A frame's headers."""
    return parse_frame(frame.decode()[:-4])


def ids(frames: list[bytes]) -> set[str]:
    """Every Uniqueid/Linkedid-style value in the frames."""
    return {v for f in frames for k, v in headers(f).items() if ID_KEYS.search(k)}


@pytest.mark.parametrize("name", trace_names())
def test_read_trace_gives_complete_frames(name: str) -> None:
    frames = read_trace(TRACES / name)
    assert all(f.endswith(b"\r\n\r\n") and f.startswith(b"Event: ") for f in frames)
    assert b"".join(frames) == (TRACES / name).read_bytes()


def test_unreadable_and_malformed_traces_raise_trace_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r"missing\.ami"):
        read_trace(tmp_path / "missing.ami")
    (tmp_path / "empty.ami").write_bytes(b"")
    with pytest.raises(TraceError, match=r"empty\.ami"):
        read_trace(tmp_path / "empty.ami")
    (tmp_path / "cut.ami").write_bytes(b"Event: A\r\nX: 1\r\n\r\nEvent: B\r\nY")
    with pytest.raises(TraceError, match=r"cut\.ami: truncated"):
        read_trace(tmp_path / "cut.ami")
    (tmp_path / "text.ami").write_bytes(b"hello world\r\n\r\n")
    with pytest.raises(TraceError, match=r"text\.ami"):
        read_trace(tmp_path / "text.ami")


def test_lf_only_trace_is_normalised(tmp_path: Path) -> None:
    (tmp_path / "lf.ami").write_bytes(b"Event: A\nX: 1\n\nEvent: B\nY: 2\n\n")
    assert read_trace(tmp_path / "lf.ami") == [
        b"Event: A\r\nX: 1\r\n\r\n",
        b"Event: B\r\nY: 2\r\n\r\n",
    ]


def test_strip_headers_removes_timestamps() -> None:
    frames = read_trace(TRACES / "direct-answered.ami")
    stripped = strip_headers(frames, {"Timestamp"})
    assert len(stripped) == len(frames)
    assert all(frame_timestamp(f) is None and b"Timestamp:" not in f for f in stripped)
    assert all(f.endswith(b"\r\n\r\n") for f in stripped)


def test_strip_privilege_class_drops_dialplan_events() -> None:
    frames = read_trace(TRACES / "direct-answered.ami")
    kept = strip_privilege_class(frames, "dialplan")
    names = {headers(f)["Event"] for f in kept}
    assert "Newexten" not in names
    assert "VarSet" not in names
    assert {"Newchannel", "Hangup", "DialBegin"} <= names
    assert len(kept) == sum(1 for f in frames if b"Privilege: dialplan" not in f)


def test_clone_rewrites_ids_consistently() -> None:
    frames = read_trace(TRACES / "local-ringgroup-answered.ami")
    copies = clone(frames, 3, spacing=10.0)
    original_ids = ids(frames)
    seen: set[str] = set()
    for i, copy in enumerate(copies):
        assert [headers(f)["Event"] for f in copy] == [headers(f)["Event"] for f in frames]
        copy_ids = ids(copy)
        assert len(copy_ids) == len(original_ids)
        assert not copy_ids & original_ids
        assert not copy_ids & seen
        seen |= copy_ids
        for old, new in zip(frames, copy, strict=True):
            h_old, h_new = headers(old), headers(new)
            assert h_new.get("CallerIDName") == h_old.get("CallerIDName")
            if "Channel" in h_old:
                assert h_new["Channel"].split("-")[0] == h_old["Channel"].split("-")[0]
                assert (h_new["Channel"] == h_old["Channel"]) is False
            if "Timestamp" in h_old:
                shift = float(h_new["Timestamp"]) - float(h_old["Timestamp"])
                assert shift == pytest.approx(10.0 * i, abs=1e-5)
    # The same original id maps to the same new id everywhere within one copy.
    mapping: dict[str, str] = {}
    for old, new in zip(frames, copies[0], strict=True):
        for key, value in headers(old).items():
            if ID_KEYS.search(key):
                assert mapping.setdefault(value, headers(new)[key]) == headers(new)[key]


def test_clone_ranges_do_not_collide() -> None:
    frames = read_trace(TRACES / "direct-answered.ami")
    first = clone(frames, 2)
    later = clone(frames, 2, start=3)
    assert not ids(first[0] + first[1]) & ids(later[0] + later[1])


def test_interleave_merges_by_timestamp_and_keeps_every_frame() -> None:
    a = read_trace(TRACES / "direct-answered.ami")
    b = clone(read_trace(TRACES / "queue-abandon.ami"), 1)[0]
    merged = interleave([a, b])
    assert sorted(merged) == sorted(a + b)
    stamps = [frame_timestamp(f) or 0.0 for f in merged]
    assert stamps == sorted(stamps)
    assert [f for f in merged if f in set(a)] == a  # stable within each trace


def test_interleave_of_clones_is_concurrent() -> None:
    frames = read_trace(TRACES / "direct-caller-hangup-ringing.ami")
    merged = interleave(clone(frames, 5, spacing=0.5))
    assert len(merged) == 5 * len(frames)
    linkedids = [headers(f)["Linkedid"] for f in merged if b"Linkedid: " in f]
    switches = sum(1 for x, y in itertools.pairwise(linkedids) if x != y)
    assert switches > 5  # the five calls overlap instead of following one another
