"""CDR rows, calls grouped from them, and the answered/missed classification.

Asterisk writes one CDR row per Dial leg, per queue attempt and per application that answers
the channel (VoiceMail, Playback, Hangup); the rows of one call share the ``uniqueid`` of its
first channel (``linkedid`` when the backend stores it). ``disposition = ANSWERED`` and
``billsec > 0`` do not mean a person answered: VoiceMail, Playback and queues answer the
channel themselves. A call counts as answered only when a row bridged the caller to another
channel (``dstchannel`` set) with an application that reaches a person, and that row says
ANSWERED. CDR alone cannot tell a left voicemail from a greeting hang-up: ``reached_voicemail``
only says a VoiceMail application ran.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol

from asterisk_textback.calls.model import Reason
from asterisk_textback.cdr.locallegs import fold_local_legs

__all__ = [
    "INBOUND_CONTEXT_PREFIXES",
    "NO_NUMBER",
    "PERSON_APPS",
    "CdrCall",
    "CdrDirection",
    "CdrOutcome",
    "CdrRow",
    "ClassifiedCall",
    "classify",
    "direction_of",
    "group_calls",
]

#: Applications whose ANSWERED row with a destination channel means a person picked up.
PERSON_APPS: Final = frozenset({"dial", "queue", "followme", "retrydial"})
#: Dialplan contexts (prefixes) where calls from outside enter: FreePBX and plain Asterisk.
INBOUND_CONTEXT_PREFIXES: Final = (
    "from-trunk",
    "from-pstn",
    "from-did",
    "ext-did",
    "from-external",
    "from-sip-external",
    "from-carrier",
)
#: Destinations this short (or shorter) are extensions, not outside numbers.
_MAX_EXTENSION_DIGITS: Final = 6
#: Caller numbers that are no number to text back.
NO_NUMBER: Final = frozenset({"", "anonymous", "unknown", "restricted", "private", "withheld"})


class CdrDirection(StrEnum):
    """Where a call came from, as far as the CDR context tells."""

    INBOUND = "inbound"
    INTERNAL = "internal"
    OUTBOUND = "outbound"


class CdrOutcome(StrEnum):
    """Answered by a person or not (the voicemail split is not knowable from CDR)."""

    ANSWERED = "answered"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class CdrRow:
    """One CDR row, with the columns both the CSV and the database backends carry."""

    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: datetime
    answer: datetime | None
    end: datetime | None
    duration: int
    billsec: int
    disposition: str
    uniqueid: str
    linkedid: str = ""
    did: str = ""

    @property
    def call_key(self) -> str:
        """The id shared by every row of one call."""
        return self.linkedid or self.uniqueid

    @property
    def reached_person(self) -> bool:
        """True when this row bridged the caller to a person who answered."""
        return (
            self.disposition.upper() == "ANSWERED"
            and bool(self.dstchannel)
            and self.lastapp.lower() in PERSON_APPS
        )


@dataclass(frozen=True, slots=True)
class CdrCall:
    """One call: its rows (in file order) and how it is classified."""

    key: str
    rows: tuple[CdrRow, ...]
    direction: CdrDirection
    outcome: CdrOutcome
    #: A VoiceMail application ran (left message or greeting hang-up: CDR cannot tell).
    reached_voicemail: bool

    @property
    def caller(self) -> str:
        """The caller's number as the PBX saw it."""
        return self.rows[0].src

    @property
    def did(self) -> str:
        """The number dialled (the DID for inbound calls)."""
        return self.rows[0].did or self.rows[0].dst

    @property
    def started_at(self) -> datetime:
        """When the first row started."""
        return min(row.start for row in self.rows)

    @property
    def textable(self) -> bool:
        """False when there is no caller number to text (anonymous, withheld)."""
        return self.caller.strip().lower() not in NO_NUMBER

    @property
    def source(self) -> str:
        """Which log classified the call."""
        return "cdr"

    @property
    def reason(self) -> Reason | None:
        """CDR does not tell why a call was missed reliably enough to say."""
        return None


class ClassifiedCall(Protocol):
    """What a summary reads from a call, whether CDR or CEL classified it."""

    @property
    def key(self) -> str: ...
    @property
    def direction(self) -> CdrDirection: ...
    @property
    def outcome(self) -> CdrOutcome: ...
    @property
    def reached_voicemail(self) -> bool: ...
    @property
    def caller(self) -> str: ...
    @property
    def did(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def textable(self) -> bool: ...
    @property
    def source(self) -> str: ...
    @property
    def reason(self) -> Reason | None: ...


def direction_of(
    context: str, dialled: str, inbound_prefixes: tuple[str, ...] = INBOUND_CONTEXT_PREFIXES
) -> CdrDirection:
    """Inbound by the entry context, else internal (extension dialled) or outbound."""
    if context.lower().startswith(inbound_prefixes):
        return CdrDirection.INBOUND
    digits = dialled.lstrip("+")
    if digits.isdigit() and len(digits) <= _MAX_EXTENSION_DIGITS:
        return CdrDirection.INTERNAL
    return CdrDirection.OUTBOUND


def classify(
    key: str,
    rows: Iterable[CdrRow],
    inbound_prefixes: tuple[str, ...] = INBOUND_CONTEXT_PREFIXES,
) -> CdrCall:
    """Classify the rows of one call: direction, answered by a person or missed."""
    ordered = tuple(rows)
    if not ordered:
        raise ValueError("a call needs at least one CDR row")
    answered = any(row.reached_person for row in ordered)
    return CdrCall(
        key=key,
        rows=ordered,
        direction=direction_of(ordered[0].dcontext, ordered[0].dst, inbound_prefixes),
        outcome=CdrOutcome.ANSWERED if answered else CdrOutcome.MISSED,
        reached_voicemail=any(row.lastapp.lower() == "voicemail" for row in ordered),
    )


def group_calls(
    rows: Iterable[CdrRow],
    inbound_prefixes: tuple[str, ...] = INBOUND_CONTEXT_PREFIXES,
) -> Iterator[CdrCall]:
    """Group rows by call id (order of first appearance), fold Local legs into the call that
    dialled them, and classify each call."""
    # Rows of concurrent calls interleave in the file, so a call is only complete at the end.
    calls: dict[str, list[CdrRow]] = {}
    for row in rows:
        calls.setdefault(row.call_key, []).append(row)
    for key, call_rows in fold_local_legs(calls).items():
        yield classify(key, call_rows, inbound_prefixes)
