"""Per-day time series for the Overview charts, and the Health page's database figures.

Days are UTC calendar days of the *call's* end, like the KPI cohort: a text sent or a booking
made after midnight still counts on the day of the missed call that led to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.kpi.metrics import (
    MISSED_OUTCOMES,
    TEXTBACK_KIND,
    cohort,
    minor_exponent,
    replied,
)
from asterisk_textback.kpi.periods import Period
from asterisk_textback.store.models import (
    Booking,
    BookingStatus,
    Call,
    InboundMessage,
    Message,
    MessageStatus,
    PendingDeliveryReport,
)

__all__ = ["DailySeries", "ErrorRow", "daily_series", "last_errors", "outbox_depth"]


@dataclass(frozen=True, slots=True)
class DailySeries:
    """One value per UTC day of the period for each charted measure."""

    days: list[date]
    inbound: list[int]
    missed: list[int]
    sent: list[int]
    delivered: list[int]
    replies: list[int]
    bookings: list[int]
    revenue: list[float]

    @property
    def missed_rate(self) -> list[float | None]:
        """Missed / inbound per day (None on days without calls)."""
        return [m / i if i else None for m, i in zip(self.missed, self.inbound, strict=True)]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "days": [d.isoformat() for d in self.days],
            "inbound": self.inbound,
            "missed": self.missed,
            "missed_rate": self.missed_rate,
            "sent": self.sent,
            "delivered": self.delivered,
            "replies": self.replies,
            "bookings": self.bookings,
            "revenue": self.revenue,
        }


def _day(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(column, 1, 10)  # stored as naive UTC "YYYY-MM-DD HH:MM:SS"
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _days(period: Period) -> list[date]:
    first = period.start.date()
    last = (period.end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def daily_series(
    session: AsyncSession, period: Period, did: str | None, currency: str
) -> DailySeries:
    """Calls, texts, replies, bookings and revenue per day (three GROUP BY queries)."""
    day = _day(session, Call.ended_at).label("day")
    missed = Call.outcome.in_(MISSED_OUTCOMES)
    calls = await session.execute(
        select(day, func.count(Call.id), _count_if(missed), _count_if(and_(missed, replied())))
        .where(*cohort(period, did))
        .group_by(day)
    )
    delivered = or_(Message.delivered_at.is_not(None), Message.status == MessageStatus.DELIVERED)
    texts = await session.execute(
        select(day, func.count(Message.id), _count_if(delivered))
        .select_from(Message)
        .join(Call, Message.call_id == Call.id)
        .where(
            Message.kind == TEXTBACK_KIND,
            Message.sent_at.is_not(None),
            missed,
            *cohort(period, did),
        )
        .group_by(day)
    )
    same_currency = or_(Booking.currency.is_(None), func.upper(Booking.currency) == currency)
    bookings = await session.execute(
        select(
            day,
            func.count(Booking.id),
            func.coalesce(func.sum(case((same_currency, Booking.value_minor), else_=0)), 0),
        )
        .select_from(Booking)
        .join(Call, Booking.call_id == Call.id)
        .where(Booking.status == BookingStatus.BOOKED, missed, *cohort(period, did))
        .group_by(day)
    )
    days = _days(period)
    index = {d.isoformat(): n for n, d in enumerate(days)}
    size = len(days)
    inbound, miss, reply = [0] * size, [0] * size, [0] * size
    sent, deliv, booked, revenue = [0] * size, [0] * size, [0] * size, [0.0] * size
    scale = 10 ** minor_exponent(currency)
    for key, total, m, r in calls:
        if (n := index.get(str(key))) is not None:
            inbound[n], miss[n], reply[n] = int(total), int(m), int(r)
    for key, s, d in texts:
        if (n := index.get(str(key))) is not None:
            sent[n], deliv[n] = int(s), int(d)
    for key, b, value in bookings:
        if (n := index.get(str(key))) is not None:
            booked[n], revenue[n] = int(b), int(value) / scale
    return DailySeries(days, inbound, miss, sent, deliv, reply, booked, revenue)


async def outbox_depth(session: AsyncSession) -> dict[str, int]:
    """Messages per status (every status listed, zero included)."""
    counts = {status.value: 0 for status in MessageStatus}
    rows = await session.execute(
        select(Message.status, func.count(Message.id)).group_by(Message.status)
    )
    for status, count in rows:
        counts[MessageStatus(status).value] = int(count)
    return counts


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """A recent failure: what, when and the error text."""

    source: str
    ref: int
    at: datetime
    status: str
    error: str


async def last_errors(session: AsyncSession, limit: int = 10) -> tuple[list[ErrorRow], int]:
    """The newest send and forwarding errors, and how many delivery reports are parked."""
    # Newest ids first: the scan stops after ``limit`` hits instead of sorting the table.
    sends = await session.scalars(
        select(Message)
        .where(Message.last_error.is_not(None))
        .order_by(Message.id.desc())
        .limit(limit)
    )
    rows = [ErrorRow("send", m.id, m.updated_at, m.status.value, m.last_error or "") for m in sends]
    forwards = await session.scalars(
        select(InboundMessage)
        .where(InboundMessage.forward_error.is_not(None))
        .order_by(InboundMessage.id.desc())
        .limit(limit)
    )
    rows += [
        ErrorRow("forward", i.id, i.received_at, "retrying", i.forward_error or "")
        for i in forwards
    ]
    rows.sort(key=lambda row: row.at, reverse=True)
    parked = await session.scalar(select(func.count(PendingDeliveryReport.id)))
    return rows[:limit], int(parked or 0)
