"""Fast, loss-free AMI framing: raw socket bytes in, header dicts out.

panoramisk decodes every TCP read on its own, so a UTF-8 character split across two reads
(a caller name like "Jürgen Müller") is silently dropped. Here the buffer stays ``bytes``
until a whole frame has arrived, and only complete frames are decoded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import repeat

from asterisk_textback.ami.types import AmiEvent

__all__ = ["DEFAULT_SKIP_EVENTS", "TRACKED_VARIABLES", "FrameParser", "ParserStats", "parse_frame"]

log = logging.getLogger(__name__)

#: High-volume events the call tracker never looks at; dropped before a dict is built.
DEFAULT_SKIP_EVENTS: frozenset[str] = frozenset(
    {
        "RTCPSent",
        "RTCPReceived",
        "DeviceStateChange",
        "QueueMemberStatus",
        "PeerStatus",
        "ContactStatus",
        "Registry",
    }
)

#: VarSet variables the call tracker reads. VarSet is by far the busiest event (about 40% of
#: a FreePBX stream) and almost all of it is noise (RTP statistics, dial bookkeeping), so a
#: connection can drop the rest before a dict is built (``keep_variables``).
TRACKED_VARIABLES: frozenset[str] = frozenset(
    {"DIALSTATUS", "VMSTATUS", "VM_MESSAGEFILE", "FROM_DID", "__FROM_DID", "QUEUESTATUS"}
)

_BANNER_PREFIX = b"Asterisk Call Manager/"
_REPR_LIMIT = 200
#: Bytes kept when discarding an oversized frame, so a terminator split across reads is seen.
_TAIL_KEEP = 3

#: One reply in wire order: (number of events of the same read that preceded it, frame).
Reply = tuple[int, AmiEvent]


@dataclass(slots=True)
class ParserStats:
    """Counters of what a parser saw; shared across reconnects when passed in."""

    frames: int = 0
    events: int = 0
    replies: int = 0
    skipped: int = 0
    garbage: int = 0
    oversized: int = 0

    @property
    def dropped(self) -> int:
        """Frames not delivered: filtered by name, garbage or oversized."""
        return self.skipped + self.garbage + self.oversized


def parse_frame(frame: str, eol: str = "\r\n") -> AmiEvent:
    """Parse the ``Key: value`` lines of one decoded frame."""
    lines = frame.split(eol)
    try:
        # Fast path: every line is "Key: value" (virtually all Asterisk output); the map over
        # C-level str.split beats a Python loop by about a third.
        return dict(map(str.split, lines, repeat(": "), repeat(1)))
    except ValueError:
        pass
    headers: AmiEvent = {}
    for line in lines:
        key, sep, value = line.partition(": ")
        if sep:
            headers[key] = value
        elif key.endswith(":") and " " not in key:
            # "Key:" with nothing after the colon: Asterisk drops the space for empty values.
            headers[key[:-1]] = ""
    return headers


class FrameParser:
    """Incremental AMI parser fed raw ``bytes`` chunks split anywhere."""

    __slots__ = ("_buf", "_discarding", "_keep_vars", "_max", "_skip", "banner", "stats")

    def __init__(
        self,
        *,
        max_frame_bytes: int = 64 * 1024,
        skip_events: frozenset[str] = DEFAULT_SKIP_EVENTS,
        keep_variables: frozenset[str] | None = None,
        expect_banner: bool = False,
        stats: ParserStats | None = None,
    ) -> None:
        """``keep_variables``: deliver VarSet events only for these variables (None: all)."""
        self._buf = b""
        self._max = max_frame_bytes
        self._skip = skip_events
        self._keep_vars = keep_variables
        self._discarding = False
        #: The "Asterisk Call Manager/x.y.z" line once read; None while still expected.
        self.banner: str | None = None if expect_banner else ""
        self.stats = stats if stats is not None else ParserStats()

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame (never much more than ``max_frame_bytes``)."""
        return len(self._buf)

    def feed(self, data: bytes) -> tuple[list[AmiEvent], list[Reply]]:
        """Consume one chunk; return its complete events and replies, in wire order.

        Replies are ``Response`` frames and events carrying an ``ActionID`` (EventList items
        answering an action); each is paired with its position among the returned events.
        """
        buf = self._buf + data if self._buf else data
        if self.banner is None:
            buf = self._take_banner(buf)
            if self.banner is None:
                self._buf = buf
                return [], []
        if self._discarding:
            buf = self._skip_oversized(buf)
            if self._discarding:
                self._buf = buf
                return [], []
        if b"\n\n" in buf:
            # Tolerate bare-LF (and mixed) line endings; CRLF streams never pay for this.
            buf = buf.replace(b"\r\n", b"\n")
            sep = b"\n\n"
        else:
            sep = b"\r\n\r\n"
        complete, found, tail = buf.rpartition(sep)
        if not found:
            self._buf = tail
            if len(tail) > self._max:
                self._start_discarding(tail)
            return [], []
        self._buf = tail
        if len(tail) > self._max:
            self._start_discarding(tail)
        if len(complete) > self._max and max(map(len, complete.split(sep))) > self._max:
            # Reads are usually larger than one frame: only pay for the rebuild when needed.
            complete = self._drop_oversized_frames(complete, sep)
        text = complete.decode("utf-8", "replace")
        if sep == b"\n\n":
            return self._parse_frames(text.split("\n\n"), "\n")
        return self._parse_frames(text.split("\r\n\r\n"), "\r\n")

    def _parse_frames(self, frames: list[str], eol: str) -> tuple[list[AmiEvent], list[Reply]]:
        skip = self._skip
        keep_vars = self._keep_vars
        var_key = eol + "Variable: "
        stats = self.stats
        events: list[AmiEvent] = []
        replies: list[Reply] = []
        append = events.append
        skipped = 0
        for frame in frames:
            if frame.startswith("Event: "):
                end = frame.find(eol)
                name = frame[7:end] if end > 0 else frame[7:]
                if name in skip:
                    skipped += 1
                    continue
                if name == "VarSet" and keep_vars is not None:
                    start = frame.find(var_key)
                    if start > 0:
                        start += len(var_key)
                        stop = frame.find(eol, start)
                        if (frame[start:stop] if stop > 0 else frame[start:]) not in keep_vars:
                            skipped += 1
                            continue
                headers = parse_frame(frame, eol)
                if "ActionID" in headers:
                    replies.append((len(events), headers))
                else:
                    append(headers)
                continue
            frame = frame.strip("\r\n")
            if not frame:
                continue
            headers = parse_frame(frame, eol)
            if "Response" in headers:
                replies.append((len(events), headers))
            elif "Event" in headers:
                if "ActionID" in headers:
                    replies.append((len(events), headers))
                else:
                    append(headers)
            else:
                stats.garbage += 1
                log.warning("skipping AMI frame without Event or Response: %s", _short(frame))
        stats.frames += len(events) + len(replies) + skipped
        stats.events += len(events)
        stats.replies += len(replies)
        stats.skipped += skipped
        return events, replies

    def _take_banner(self, buf: bytes) -> bytes:
        line, found, rest = buf.partition(b"\n")
        if not found:
            if len(buf) >= len(_BANNER_PREFIX) and not buf.startswith(_BANNER_PREFIX):
                self.banner = ""  # not a banner: treat everything as frames
                return buf
            return buf
        if line.startswith(_BANNER_PREFIX):
            self.banner = line.rstrip(b"\r").decode("utf-8", "replace")
            return rest
        self.banner = ""
        return buf

    def _start_discarding(self, tail: bytes) -> None:
        self.stats.oversized += 1
        log.warning(
            "discarding AMI frame larger than %d bytes: %s", self._max, _short(tail[:_REPR_LIMIT])
        )
        self._discarding = True
        self._buf = tail[-_TAIL_KEEP:]

    def _skip_oversized(self, buf: bytes) -> bytes:
        ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := buf.find(sep)) >= 0]
        if not ends:
            return buf[-_TAIL_KEEP:]
        self._discarding = False
        return buf[min(ends) :]

    def _drop_oversized_frames(self, complete: bytes, sep: bytes) -> bytes:
        kept = []
        for raw in complete.split(sep):
            if len(raw) > self._max:
                self.stats.oversized += 1
                log.warning(
                    "discarding AMI frame larger than %d bytes: %s",
                    self._max,
                    _short(raw[:_REPR_LIMIT]),
                )
            else:
                kept.append(raw)
        return sep.join(kept)


def _short(value: str | bytes) -> str:
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[:_REPR_LIMIT] + "…"
