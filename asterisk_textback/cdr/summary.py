"""Answered vs missed counts of classified calls (CDR or CEL), overall, per DID and reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asterisk_textback.cdr.model import CdrDirection, CdrOutcome, ClassifiedCall

__all__ = ["CdrSummary", "summarize"]


@dataclass(slots=True)
class CdrSummary:
    """Answered vs missed counts of inbound calls, overall and per DID."""

    inbound: int = 0
    answered: int = 0
    missed: int = 0
    #: Missed calls with a number to text (not anonymous).
    missed_textable: int = 0
    #: Missed calls that reached a VoiceMail application (message left or not).
    missed_reached_voicemail: int = 0
    internal: int = 0
    outbound: int = 0
    first_call: datetime | None = None
    last_call: datetime | None = None
    by_did: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Calls (every direction) by the log that classified them: "cdr" or "cel".
    by_source: dict[str, int] = field(default_factory=dict)
    #: Missed inbound calls by reason, for calls whose log tells it (CEL).
    missed_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def missed_rate(self) -> float | None:
        """Missed / inbound calls; None with no inbound calls."""
        return self.missed / self.inbound if self.inbound else None

    def as_dict(self) -> dict[str, Any]:
        """The counts as JSON-ready values."""
        return {
            "inbound": self.inbound,
            "answered": self.answered,
            "missed": self.missed,
            "missed_rate": self.missed_rate,
            "missed_textable": self.missed_textable,
            "missed_reached_voicemail": self.missed_reached_voicemail,
            "internal": self.internal,
            "outbound": self.outbound,
            "first_call": None if self.first_call is None else self.first_call.isoformat(),
            "last_call": None if self.last_call is None else self.last_call.isoformat(),
            "by_did": {did: {"inbound": i, "missed": m} for did, (i, m) in self.by_did.items()},
            "missed_by_reason": dict(sorted(self.missed_by_reason.items())),
        }

    def add(self, call: ClassifiedCall) -> None:
        """Count one classified call."""
        self.by_source[call.source] = self.by_source.get(call.source, 0) + 1
        if call.direction is CdrDirection.INTERNAL:
            self.internal += 1
            return
        if call.direction is CdrDirection.OUTBOUND:
            self.outbound += 1
            return
        started = call.started_at
        self.first_call = started if self.first_call is None else min(self.first_call, started)
        self.last_call = started if self.last_call is None else max(self.last_call, started)
        self.inbound += 1
        inbound, missed = self.by_did.get(call.did, (0, 0))
        if call.outcome is CdrOutcome.ANSWERED:
            self.answered += 1
        else:
            self.missed += 1
            missed += 1
            self.missed_textable += call.textable
            self.missed_reached_voicemail += call.reached_voicemail
            if call.reason is not None:
                reason = str(call.reason)
                self.missed_by_reason[reason] = self.missed_by_reason.get(reason, 0) + 1
        self.by_did[call.did] = (inbound + 1, missed)


def summarize(calls: Iterable[ClassifiedCall], did: str | None = None) -> CdrSummary:
    """Count calls (optionally only those to ``did``) into a :class:`CdrSummary`."""
    summary = CdrSummary()
    for call in calls:
        if did is None or call.did == did:
            summary.add(call)
    return summary
