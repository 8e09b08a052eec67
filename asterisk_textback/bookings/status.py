"""Whether a booking stands, as a value type (pure: no database, no I/O)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BookingStatus"]


class BookingStatus(StrEnum):
    """Whether a booking stands; a cancelled one no longer counts as revenue."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
