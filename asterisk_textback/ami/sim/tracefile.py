"""Recorded AMI traces (``.ami``: the exact CRLF bytes Asterisk sent) and workload helpers.

Frames are kept as raw ``bytes`` ending in ``b"\\r\\n\\r\\n"`` so a replay puts on the wire
exactly what Asterisk did. ``clone`` and ``interleave`` turn one recorded call into many
concurrent ones for load tests and benchmarks.
"""

from __future__ import annotations

import heapq
import os
import re
import uuid
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from asterisk_textback.errors import TraceError

__all__ = [
    "clone",
    "frame_timestamp",
    "interleave",
    "read_trace",
    "strip_headers",
    "strip_privilege_class",
]

TERMINATOR = b"\r\n\r\n"
_EOL = b"\r\n"
_TIMESTAMP_RE = re.compile(rb"^Timestamp: (\d+(?:\.\d+)?)\r$", re.MULTILINE)
_ID_HEADER_RE = re.compile(rb"^[A-Za-z]*(?:Uniqueid|Linkedid): (\d+\.\d+)\r$", re.MULTILINE)
#: The per-channel hex counter at the end of channel names ("PJSIP/trunk-0000001f",
#: "Local/1001@ext-local-00000000;1"), wherever such a name appears in a value.
_CHANNEL_SUFFIX_RE = re.compile(rb"(/[^\s/]+-)([0-9a-f]{8})(?=;\d|\r\n)")
_UUID_RE = re.compile(rb"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
#: Clone k of channel counter c becomes c + k * _CHANNEL_STRIDE: distinct for c below it.
_CHANNEL_STRIDE = 0x100000
_CLONE_DIGITS = 6


def read_trace(path: str | os.PathLike[str]) -> list[bytes]:
    """Read a ``.ami`` trace into frames, each ending with ``b"\\r\\n\\r\\n"``."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise TraceError(f"{p}: cannot read AMI trace: {exc.strerror or exc}") from None
    if _EOL not in data and b"\n" in data:
        # Hand-edited traces lose their CRs; Asterisk always sends CRLF.
        data = data.replace(b"\n", _EOL)
    parts = data.split(TERMINATOR)
    tail = parts.pop()
    if tail.strip():
        raise TraceError(f"{p}: truncated AMI trace: the last frame has no blank-line end")
    frames = [part.lstrip(b"\r\n") + TERMINATOR for part in parts if part.strip()]
    if not frames:
        raise TraceError(f"{p}: empty AMI trace: no frames")
    for i, frame in enumerate(frames):
        if b": " not in frame.split(_EOL, 1)[0]:
            raise TraceError(f"{p}: frame {i} does not start with a 'Key: value' line")
    return frames


def frame_timestamp(frame: bytes) -> float | None:
    """The ``Timestamp`` header of a frame as epoch seconds, or None."""
    match = _TIMESTAMP_RE.search(frame)
    return float(match.group(1)) if match else None


def _headers(frame: bytes) -> list[bytes]:
    return frame[: -len(TERMINATOR)].split(_EOL)


def strip_headers(frames: Iterable[bytes], names: Collection[str]) -> list[bytes]:
    """Remove the named headers from every frame (e.g. ``{"Timestamp"}``)."""
    keys = tuple(name.encode() + b": " for name in names)
    out = []
    for frame in frames:
        lines = [line for line in _headers(frame) if not line.startswith(keys)]
        out.append(_EOL.join(lines) + TERMINATOR)
    return out


def strip_privilege_class(frames: Iterable[bytes], cls: str) -> list[bytes]:
    """Drop every event whose ``Privilege`` includes ``cls``: what a user without it sees."""
    wanted = cls.encode()
    out = []
    for frame in frames:
        privilege = next((ln for ln in _headers(frame) if ln.startswith(b"Privilege: ")), None)
        if privilege is not None and wanted in privilege[len(b"Privilege: ") :].split(b","):
            continue
        out.append(frame)
    return out


def clone(
    frames: Sequence[bytes], n: int, *, spacing: float = 0.0, start: int = 1
) -> list[list[bytes]]:
    """``n`` copies of a recorded call with fresh ids, copy ``i`` shifted ``i * spacing`` s.

    Every ``…Uniqueid``/``…Linkedid`` value (and the same ids anywhere else), channel name
    counters and UUIDs are rewritten consistently within a copy. Copies made with different
    ``start`` ranges of the same trace do not collide.
    """
    if n < 0 or start < 0 or start + n > 10**_CLONE_DIGITS:
        raise ValueError(f"clone indexes {start}..{start + n - 1} out of range")
    blob = b"".join(frames)
    ids = sorted(set(_ID_HEADER_RE.findall(blob)), key=len, reverse=True)
    # Longest first so "1.31" is never rewritten inside "1.310".
    id_re = re.compile(rb"(?<![\d.])(" + b"|".join(re.escape(i) for i in ids) + rb")(?![\d])")
    return [
        _clone_one(frames, blob, id_re if ids else None, k, (k - start) * spacing)
        for k in range(start, start + n)
    ]


def _clone_one(
    frames: Sequence[bytes], blob: bytes, id_re: re.Pattern[bytes] | None, k: int, shift: float
) -> list[bytes]:
    suffix = b"%0*d" % (_CLONE_DIGITS, k)
    if id_re is not None:
        blob = id_re.sub(lambda m: m.group(1) + suffix, blob)

    def channel(m: re.Match[bytes]) -> bytes:
        return m.group(1) + b"%08x" % (int(m.group(2), 16) + k * _CHANNEL_STRIDE)

    def new_uuid(m: re.Match[bytes]) -> bytes:
        return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{m.group(0).decode()}/{k}")).encode()

    def timestamp(m: re.Match[bytes]) -> bytes:
        return b"Timestamp: %.6f\r" % (float(m.group(1)) + shift)

    blob = _CHANNEL_SUFFIX_RE.sub(channel, blob)
    blob = _UUID_RE.sub(new_uuid, blob)
    if shift:
        blob = _TIMESTAMP_RE.sub(timestamp, blob)
    out = [part + TERMINATOR for part in blob.split(TERMINATOR)[:-1]]
    if len(out) != len(frames):  # pragma: no cover - a rewrite never adds a blank line
        raise TraceError("clone changed the number of frames")
    return out


def interleave(traces: Sequence[Sequence[bytes]]) -> list[bytes]:
    """Merge several traces by ``Timestamp`` (stable; untimed frames follow their previous)."""

    def keyed(index: int, frames: Sequence[bytes]) -> list[tuple[float, int, int, bytes]]:
        last = 0.0
        out = []
        for pos, frame in enumerate(frames):
            ts = frame_timestamp(frame)
            last = last if ts is None else ts
            out.append((last, index, pos, frame))
        return out

    merged = heapq.merge(*(keyed(i, frames) for i, frames in enumerate(traces)))
    return [item[3] for item in merged]
