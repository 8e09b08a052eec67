"""The domain record the tracker emits: one ``CallEnded`` per finished call."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from asterisk_textback.calls.utc import utc


class Direction(StrEnum):
    """Which way a call went, from the business's point of view."""

    INBOUND = "inbound"
    INTERNAL = "internal"
    OUTBOUND = "outbound"


class Outcome(StrEnum):
    """What happened to the caller."""

    ANSWERED = "answered"
    MISSED_VOICEMAIL = "missed_voicemail"
    MISSED_NO_VOICEMAIL = "missed_no_voicemail"
    #: We lost sight of the call (AMI connection dropped, or it outlived the TTL): never texted.
    UNKNOWN = "unknown"


#: The outcomes of a missed call: nobody answered (voicemail or not). Unknown is not missed.
MISSED_OUTCOMES: tuple[Outcome, ...] = (Outcome.MISSED_VOICEMAIL, Outcome.MISSED_NO_VOICEMAIL)


class Reason(StrEnum):
    """Why the call ended the way it did (finer than :class:`Outcome`)."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    CALLER_HANGUP = "caller_hangup"
    ABANDONED = "abandoned"
    QUEUE_TIMEOUT = "queue_timeout"
    VOICEMAIL_NO_MESSAGE = "voicemail_no_message"
    IVR_ONLY = "ivr_only"
    #: The AMI connection dropped while the call was up and it was gone on reconnect.
    CONNECTION_LOST = "connection_lost"
    #: No channel of the call hung up within the tracker's TTL.
    EVICTED = "evicted"


class CallerVerification(StrEnum):
    """What the caller ID's verification said (``calls/verification.py`` parses the hook's
    report); stored as ``calls.caller_verification``."""

    PASSED = "passed"
    FAILED = "failed"
    NONE = "none"


def _iso(ts: float) -> str:
    return utc(ts).isoformat()


@dataclass(frozen=True, slots=True)
class CallEnded:
    """One finished call, classified; emitted exactly once per Linkedid."""

    linkedid: str
    direction: Direction
    outcome: Outcome
    reason: Reason
    caller_number: str
    caller_name: str
    did: str
    queue: str | None
    mailbox: str | None
    started_at: float
    ended_at: float
    ring_seconds: float
    answered_by: str | None = None
    pbx: str = "default"
    #: For outbound calls: the number the extension dialled (a call back, for "cancel if
    #: handled"); empty otherwise.
    dialed_number: str = ""
    #: The dialplan hook reported ``TEXTBACK=no`` for this call's route: recorded, never texted.
    excluded: bool = False
    #: The hook reported that the spoken text-back disclosure played to its end.
    disclosure_played: bool = False
    #: Caller ID verification reported by the hook (STIR/SHAKEN or the carrier's verstat);
    #: None when no hook reported it.
    caller_verification: CallerVerification | None = None

    @property
    def missed(self) -> bool:
        """True when nobody answered (voicemail or not); unknown calls are not missed."""
        return self.outcome in MISSED_OUTCOMES

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with ISO 8601 UTC times."""
        return {
            "linkedid": self.linkedid,
            "direction": str(self.direction),
            "outcome": str(self.outcome),
            "reason": str(self.reason),
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "did": self.did,
            "queue": self.queue,
            "mailbox": self.mailbox,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "ring_seconds": round(self.ring_seconds, 3),
            "answered_by": self.answered_by,
            "pbx": self.pbx,
            "dialed_number": self.dialed_number,
            "excluded": self.excluded,
            "disclosure_played": self.disclosure_played,
            "caller_verification": (
                None if self.caller_verification is None else str(self.caller_verification)
            ),
        }
