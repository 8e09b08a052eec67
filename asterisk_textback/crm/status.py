"""Delivery state of a CRM webhook post, as a value type (pure: no database, no I/O)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CrmEventStatus"]


class CrmEventStatus(StrEnum):
    """Delivery state of one CRM webhook post (one row per event and endpoint)."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    #: Gave up after the last attempt; kept for the audit trail and the health page.
    FAILED = "failed"
