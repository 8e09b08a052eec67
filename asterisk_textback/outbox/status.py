"""The outbox row's life cycle as a value type (pure: no database, no I/O).

The transitions are drawn and enforced in ``store/results.py``; this is only the alphabet,
so the dispatcher, the dashboard and the KPIs can name a state without importing SQLAlchemy.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["MessageStatus"]


class MessageStatus(StrEnum):
    """Life cycle of an outbox row; only ``queued`` rows are ever claimed for sending."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    #: Caught mid-send (crash or unclear provider answer): shown, never re-sent automatically.
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    SUPPRESSED = "suppressed"
