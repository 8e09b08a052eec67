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

__all__ = [
    "DEFAULT_SKIP_EVENTS",
    "IDENTITY_KEYS",
    "TRACKED_VARIABLES",
    "FrameParser",
    "ParserStats",
    "parse_frame",
    "repeated_identity_key",
]

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

#: Headers that say whose call an event is about. Asterisk writes each once per frame; a
#: second one means a value carried a raw line break (a caller name ``Eve\r\nCallerIDNum:
#: +1…`` from a broken channel driver or a hostile PBX) and the frame cannot be trusted.
IDENTITY_KEYS: tuple[str, ...] = (
    "CallerIDNum",
    "CallerIDName",
    "Uniqueid",
    "Linkedid",
    "Channel",
    "Exten",
    "Context",
)

_BANNER_PREFIX = b"Asterisk Call Manager/"
#: Where a frame starts; after garbage, parsing resumes at the first of these.
_FRAME_STARTS = ("Event: ", "Response: ")
_RAW_FRAME_STARTS = (b"\nEvent: ", b"\nResponse: ")
_REPR_LIMIT = 200
#: Bytes kept when discarding an oversized frame, so a terminator or a frame start
#: (``\nResponse: ``) split across reads is seen.
_TAIL_KEEP = 10

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
    #: Frames dropped because an identity key (``IDENTITY_KEYS``) appeared twice.
    repeated: int = 0

    @property
    def dropped(self) -> int:
        """Frames not delivered: filtered by name, garbage, oversized or repeated keys."""
        return self.skipped + self.garbage + self.oversized + self.repeated


def parse_frame(frame: str, eol: str = "\r\n") -> AmiEvent:
    """Parse the ``Key: value`` lines of one decoded frame (a repeated key keeps its last)."""
    return _parse(frame, eol)[0]


def repeated_identity_key(frame: str, eol: str = "\r\n") -> str | None:
    """The first of ``IDENTITY_KEYS`` that occurs on more than one line of ``frame``."""
    for key in IDENTITY_KEYS:
        line = eol + key + ":"
        if frame.count(line) + frame.startswith(line[len(eol) :]) > 1:
            return key
    return None


def _parse(frame: str, eol: str) -> tuple[AmiEvent, bool]:
    """The headers, and whether every line was a distinct key (else: check for repeats)."""
    lines = frame.split(eol)
    try:
        # Fast path: every line is "Key: value" (virtually all Asterisk output); the map over
        # C-level str.split beats a Python loop by about a third.
        headers = dict(map(str.split, lines, repeat(": "), repeat(1)))
    except ValueError:
        return _parse_lines(lines), False
    return headers, len(headers) == len(lines)


def _parse_lines(lines: list[str]) -> AmiEvent:
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
                headers, distinct = _parse(frame, eol)
                if not distinct and self._repeats(frame, eol, headers):
                    continue
                if "ActionID" in headers:
                    replies.append((len(events), headers))
                else:
                    append(headers)
                continue
            frame = frame.strip("\r\n")
            if not frame:
                continue
            if not frame.startswith(_FRAME_STARTS):
                frame = self._skip_leading_garbage(frame, eol)
            headers, distinct = _parse(frame, eol)
            if not distinct and self._repeats(frame, eol, headers):
                continue
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

    def _repeats(self, frame: str, eol: str, headers: AmiEvent) -> bool:
        """Log and count a frame whose identity key repeats; True if it must be dropped."""
        key = repeated_identity_key(frame, eol)
        if key is None:
            return False
        self.stats.repeated += 1
        # The values are the caller's (numbers, names): name the frame, not its content.
        log.warning(
            "dropping AMI %s frame (Uniqueid %s): header %s appears more than once, "
            "a value carried a raw line break",
            _short(headers.get("Event") or headers.get("Response") or "?"),
            _short(headers.get("Uniqueid", "?")),
            key,
        )
        return True

    def _skip_leading_garbage(self, frame: str, eol: str) -> str:
        """Cut bytes glued before a frame's first line so they cannot swallow that frame."""
        starts = [i + len(eol) for m in _FRAME_STARTS if (i := frame.find(eol + m)) >= 0]
        if not starts:
            first = frame.split(eol, 1)[0]
            starts = [i for m in _FRAME_STARTS if (i := first.find(m)) > 0]
        if not starts:
            return frame  # no frame in here: reported as garbage below
        cut = min(starts)
        self.stats.garbage += 1
        log.warning("skipping garbage before an AMI frame: %s", _short(frame[:cut]))
        return frame[cut:]

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
        # A frame starting before the end of the garbage: resume there, do not swallow it.
        ends += [i + 1 for start in _RAW_FRAME_STARTS if (i := buf.find(start)) >= 0]
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
                # A valid frame right after the oversized garbage survives.
                start = max(raw.rfind(m) for m in _RAW_FRAME_STARTS)
                if start >= 0 and len(raw) - start <= self._max:
                    kept.append(raw[start + 1 :])
            else:
                kept.append(raw)
        return sep.join(kept)


def _short(value: str | bytes) -> str:
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[:_REPR_LIMIT] + "…"
