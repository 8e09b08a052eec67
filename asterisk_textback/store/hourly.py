"""``call_hours``: the KPI flags of the inbound calls summed per UTC hour and DID.

Kept by database triggers on ``calls`` (migration 0007), so it always equals the sum of its
calls' flags (``Call.first_reply_at`` … ``Call.no_sms``, themselves kept by triggers on the
replies, texts, bookings and contacts). On PostgreSQL the sums are added at commit, so the row
every recorder updates is locked only while a transaction commits. ``store.hour_sums`` reads
it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from asterisk_textback.store.base import Base

__all__ = ["CallHour"]


class CallHour(Base):
    """The sums for the inbound calls to one DID that ended in one UTC hour."""

    __tablename__ = "call_hours"
    # Stored in key order on SQLite: a period's hours are one contiguous range of the table.
    __table_args__ = ({"sqlite_with_rowid": False},)

    hour: Mapped[datetime] = mapped_column(primary_key=True)
    did: Mapped[str] = mapped_column(String(255), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)
    missed: Mapped[int] = mapped_column(Integer)
    capable: Mapped[int] = mapped_column(Integer)
    replied: Mapped[int] = mapped_column(Integer)
    stopped: Mapped[int] = mapped_column(Integer)
    texted: Mapped[int] = mapped_column(Integer)
    delivered: Mapped[int] = mapped_column(Integer)
    segments: Mapped[int] = mapped_column(Integer)
    responded: Mapped[int] = mapped_column(Integer)
