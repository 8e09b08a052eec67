"""The CDR the built-in AMI server's PBX writes: ``Master.csv`` rows as ``cdr_csv`` does.

Every call the server plays gets one row when its last channel hangs up (``cdr_csv``
writes at the end of the call, whether or not anyone watches the AMI), in the format
:mod:`asterisk_textback.cdr.csvfile` reads: ``usegmtime=yes``, ``loguniqueid=yes``
(column 17: the root channel's Uniqueid, which is the call's Linkedid), ``loguserfield``.
So a catch-up reading the file finds the calls that ended while no instance was logged in.

Disposition: ``ANSWERED`` when a channel of the call entered a bridge, else ``NO ANSWER``
(a simplification: Asterisk also marks a call answered by an application, e.g. VoiceMail).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from asterisk_textback.ami.framing import parse_frame

__all__ = ["CdrWriter"]

_TIME = "%Y-%m-%d %H:%M:%S"
_WATCHED = (b"Event: Newchannel\r\n", b"Event: Hangup\r\n", b"Event: BridgeEnter\r\n")


@dataclass(slots=True)
class _Call:
    root: dict[str, str]
    start: float
    channels: set[str] = field(default_factory=set)
    answered_at: float | None = None
    #: The channel bridged to the caller (the one who answered).
    dst_channel: str = ""
    end: float = 0.0


def _at(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime(_TIME)


class CdrWriter:
    """Follows streamed frames per Linkedid and appends each ended call's row to ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._calls: dict[str, _Call] = {}
        #: Rows written so far.
        self.written = 0

    def feed(self, frame: bytes) -> None:
        """Account for one streamed frame (cheap for the frames a CDR does not need)."""
        if not frame.startswith(_WATCHED):
            return
        event = parse_frame(frame.decode("utf-8", "replace").rstrip("\r\n"))
        uid = event.get("Uniqueid", "")
        linkedid = event.get("Linkedid") or uid
        try:
            ts = float(event.get("Timestamp", ""))
        except ValueError:
            return  # no time stamp: nothing to write down
        name = event.get("Event")
        call = self._calls.get(linkedid)
        if name == "Newchannel":
            if call is None:
                call = self._calls[linkedid] = _Call(event, ts)
            call.channels.add(uid)
        elif call is None:
            return
        elif name == "BridgeEnter":
            call.answered_at = call.answered_at or ts
            if uid != linkedid and not call.dst_channel:
                call.dst_channel = event.get("Channel", "")
        else:
            call.channels.discard(uid)
            call.end = ts
            if not call.channels:
                del self._calls[linkedid]
                self._write(linkedid, call)

    def _write(self, linkedid: str, call: _Call) -> None:
        root = call.root
        answered = call.answered_at is not None
        number = root.get("CallerIDNum", "")
        out = io.StringIO()
        csv.writer(out, quoting=csv.QUOTE_ALL).writerow(
            [
                "",
                number,
                root.get("Exten", ""),
                root.get("Context", ""),
                f'"{root.get("CallerIDName", "")}" <{number}>',
                root.get("Channel", ""),
                call.dst_channel,
                "Dial",
                "",
                _at(call.start),
                _at(call.answered_at) if call.answered_at is not None else "",
                _at(call.end),
                int(call.end - call.start),
                int(call.end - call.answered_at) if call.answered_at is not None else 0,
                "ANSWERED" if answered else "NO ANSWER",
                "DOCUMENTATION",
                linkedid,
                "",
            ]
        )
        with self.path.open("a", encoding="utf-8") as file:
            file.write(out.getvalue())
        self.written += 1
