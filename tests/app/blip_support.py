"""Helpers for the blip and restart tests: one call cloned per cut point, and its CDR row."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from asterisk_textback.ami.framing import parse_frame
from asterisk_textback.ami.sim.tracefile import clone, frame_timestamp
from asterisk_textback.ami.sim.workload import compress_gaps, renumber
from tests.pipeline.support import unique_number

_TS_RE = re.compile(rb"^Timestamp: (\d+(?:\.\d+)?)\r$", re.MULTILINE)
_CDR_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class Copy:
    """One clone of a recorded call: its frames, caller number and Linkedid."""

    frames: list[bytes]
    number: str
    linkedid: str


def _shift(frames: Sequence[bytes], delta: float) -> list[bytes]:
    return [
        _TS_RE.sub(lambda m: b"Timestamp: %.6f\r" % (float(m.group(1)) + delta), f) for f in frames
    ]


def copies(frames: Sequence[bytes], count: int, *, end_at: float, first: int = 0) -> list[Copy]:
    """``count`` clones (fresh ids, distinct callers ``first``…), each ending at ``end_at``."""
    short = compress_gaps(frames, 0.05)
    last = max(t for f in short if (t := frame_timestamp(f)) is not None)
    out = []
    for k, copy in enumerate(clone(short, count, start=first + 1)):
        number = unique_number(first + k)
        moved = renumber(_shift(copy, end_at - last), number.encode())
        root = parse_frame(moved[0].decode().rstrip("\r\n"))
        out.append(Copy(moved, number, root["Linkedid"]))
    return out


def cdr_row(copy: Copy, disposition: str, *, began: float | None = None) -> str:
    """The ``cdr_csv`` line (usegmtime=yes, loguniqueid=yes) Asterisk writes for the call.

    ``began``: when the call began, if before its first frame (frames we never saw).
    """
    events = [parse_frame(f.decode().rstrip("\r\n")) for f in copy.frames]
    root = next(e for e in events if e.get("Uniqueid") == copy.linkedid)
    times = [float(e["Timestamp"]) for e in events if "Timestamp" in e]

    def at(ts: float) -> str:
        return datetime.fromtimestamp(ts, tz=UTC).strftime(_CDR_TIME)

    start, end = min(times) if began is None else began, max(times)
    answered = disposition == "ANSWERED"
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL).writerow(
        [
            "",
            root["CallerIDNum"],
            root["Exten"],
            root["Context"],
            f'"{root.get("CallerIDName", "")}" <{root["CallerIDNum"]}>',
            root["Channel"],
            "",
            "Dial",
            "",
            at(start),
            at(start + 1) if answered else "",
            at(end),
            int(end - start),
            int(end - start - 1) if answered else 0,
            disposition,
            "DOCUMENTATION",
            copy.linkedid,
            "",
        ]
    )
    return out.getvalue()
