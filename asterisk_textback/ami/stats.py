"""Counters one AMI connection keeps for health checks and metrics (a plain value)."""

from __future__ import annotations

from dataclasses import dataclass, field

from asterisk_textback.ami.framing import ParserStats

__all__ = ["ConnectionStats"]


@dataclass(slots=True)
class ConnectionStats:
    """Counters for health checks and metrics."""

    events: int = 0
    batches: int = 0
    bytes_received: int = 0
    logins: int = 0
    reconnects: int = 0
    resyncs: int = 0
    pings_missed: int = 0
    handler_errors: int = 0
    parser: ParserStats = field(default_factory=ParserStats)
    #: When (epoch) the connection entered its current state: Health says "down since …".
    state_since: float | None = None
    #: When (epoch) the last event arrived: the integrator console shows it per link.
    last_event_at: float | None = None

    @property
    def frames_skipped(self) -> int:
        """Frames not delivered: filtered by name, garbage or oversized."""
        return self.parser.dropped
