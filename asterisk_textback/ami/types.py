"""What the AMI layer hands to the rest of the program, in wire order, through one queue."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

#: One AMI event as sent by Asterisk: header name (as Asterisk spells it) -> value.
#: Repeated headers keep the last value, except ``ChanVariable``-style lists which the
#: tracker does not need.
AmiEvent = dict[str, str]


class ConnectionState(StrEnum):
    """The visible state of one AMI connection."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    READY = "ready"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Events parsed from one read of the socket, in wire order.

    ``received_at`` (epoch seconds) stands in for events without a ``Timestamp`` header.
    """

    events: list[AmiEvent]
    received_at: float


@dataclass(frozen=True, slots=True)
class Resync:
    """Queued after a re-login: the channels alive now, per ``CoreShowChannels``.

    The consumer must resolve calls it was following before the drop: channels not listed
    here hung up while we were not looking.
    """

    alive_uniqueids: frozenset[str]
    received_at: float
    #: When we stopped hearing from the PBX (the last event before the drop): calls that
    #: ended between this and ``received_at`` were never seen.
    blind_since: float | None = None


QueueItem = EventBatch | Resync
