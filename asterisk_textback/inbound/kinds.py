"""What an inbound text asks for, as a value type (pure: no database, no I/O).

``inbound.consent`` decides the kind from the body; the store only keeps it.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["InboundKind"]


class InboundKind(StrEnum):
    """What an inbound text asks for (see ``asterisk_textback.inbound.consent``)."""

    REPLY = "reply"
    STOP = "stop"
    START = "start"
    HELP = "help"
