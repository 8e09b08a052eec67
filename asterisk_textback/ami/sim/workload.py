"""Realistic call streams made from real recordings: fresh ids, fresh caller numbers."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from asterisk_textback.ami.sim.tracefile import clone, frame_timestamp, interleave

_CALLER_RE = re.compile(rb"^CallerIDNum: (\+?\d{7,15})\r$", re.MULTILINE)
#: Area codes for made-up numbers; 555-01XX is reserved for fiction in the NANP.
_AREAS = (b"212", b"415", b"617", b"312", b"713", b"206", b"305", b"404", b"503", b"720")


def caller_number(frames: Sequence[bytes]) -> bytes | None:
    """The caller's number: CallerIDNum of the first Newchannel (the caller's channel)."""
    first = next((f for f in frames if f.startswith(b"Event: Newchannel\r\n")), None)
    match = _CALLER_RE.search(first) if first is not None else None
    return match.group(1) if match else None


def renumber(frames: Sequence[bytes], new: bytes) -> list[bytes]:
    """The same call from another caller number (every mention of the old one replaced)."""
    old = caller_number(frames)
    if old is None:
        return list(frames)
    return [frame.replace(old, new) for frame in frames]


def fake_number(rng: random.Random) -> bytes:
    """A North American number in the 555-01XX range reserved for fiction."""
    return rng.choice(_AREAS) + b"5550" + b"%03d" % rng.randrange(100, 200)


def compress_gaps(frames: Sequence[bytes], max_gap: float) -> list[bytes]:
    """Shorten every quiet stretch longer than ``max_gap`` s (a voicemail being recorded)."""
    out: list[bytes] = []
    shift = 0.0
    last: float | None = None
    for frame in frames:
        ts = frame_timestamp(frame)
        if ts is not None:
            if last is not None and ts - last > max_gap:
                shift -= ts - last - max_gap
            last = ts
        out.append(frame if ts is None or not shift else _shift([frame], shift)[0])
    return out


def call_stream(
    traces: Sequence[Sequence[bytes]],
    calls: int,
    *,
    rate: float,
    start_at: float | None = None,
    seed: int = 0,
    fresh_numbers: bool = True,
    max_gap: float | None = None,
) -> list[bytes]:
    """``calls`` calls starting ``1/rate`` s apart, cycling through ``traces``, interleaved.

    Each call gets fresh Uniqueids/Linkedids/channel names and, unless it was anonymous or
    internal, a fresh caller number, so cooldowns and caps see many different callers.
    ``start_at`` moves the first call's start there (epoch seconds); ``max_gap`` shortens
    long quiet stretches.
    """
    rng = random.Random(seed)
    copies: list[list[bytes]] = []
    origin = start_at
    for i in range(calls):
        frames = traces[i % len(traces)]
        if max_gap is not None:
            frames = compress_gaps(frames, max_gap)
        start = frame_timestamp(frames[0]) or 0.0
        origin = start if origin is None else origin
        # Shift this copy so it starts i/rate seconds after the first call.
        (copy,) = clone(frames, 1, start=i + 1, spacing=0.0)
        copy = _shift(copy, origin + i / rate - start)
        if fresh_numbers and _is_external(copy):
            copy = renumber(copy, fake_number(rng))
        copies.append(copy)
    return interleave(copies)


def _is_external(frames: Sequence[bytes]) -> bool:
    number = caller_number(frames)
    return number is not None and len(number.lstrip(b"+")) >= 10


_TS_RE = re.compile(rb"^Timestamp: (\d+(?:\.\d+)?)\r$", re.MULTILINE)


def _shift(frames: Sequence[bytes], delta: float) -> list[bytes]:
    def moved(m: re.Match[bytes]) -> bytes:
        return b"Timestamp: %.6f\r" % (float(m.group(1)) + delta)

    return [_TS_RE.sub(moved, frame) for frame in frames]
