"""Per-day time series for the Overview charts, and the Health page's database figures.

Days are calendar days in the business's time zone of the *call's* end, like the KPI cohort:
a text sent or a booking made after midnight still counts on the day of the missed call that
led to it. The database is not asked about time zones (SQLite has none, and PostgreSQL's
zone names need not match ours); ``zoneinfo`` gives each local midnight as a UTC instant, so
a 23- or 25-hour DST day is just a shorter or longer range:

- calls, texts and replies per day come from ``store.hour_sums``: the whole UTC hours of
  each day from ``call_hours``, its partial hours (zones off the hour, the period's ends)
  from the calls' own flags;
- bookings (few rows) are grouped by the end time plus the zone's UTC offset, one ``CASE``
  branch per offset change in the period (found by :func:`offset_changes`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Interval,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.utc import utc
from asterisk_textback.kpi.definitions import minor_exponent
from asterisk_textback.kpi.periods import Period
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.hour_sums import SUMS, HourSums, range_sums, split
from asterisk_textback.store.kpi_queries import standing_bookings
from asterisk_textback.store.models import (
    CallHour,
    InboundMessage,
    Message,
    PendingDeliveryReport,
)

__all__ = [
    "DailySeries",
    "ErrorRow",
    "daily_series",
    "last_errors",
    "local_days",
    "offset_changes",
    "outbox_depth",
]


@dataclass(frozen=True, slots=True)
class DailySeries:
    """One value per local day of the period for each charted measure."""

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


def _offset(at: datetime, zone: tzinfo) -> timedelta:
    return at.astimezone(zone).utcoffset() or timedelta()


def offset_changes(period: Period, zone: tzinfo) -> list[tuple[datetime, timedelta]]:
    """(from, UTC offset) for each stretch of ``period`` over which ``zone``'s offset holds.

    The first stretch starts at ``period.start``. Offsets are probed once a day and a change
    is bisected to the second (zones change offset at whole seconds, at most once a day).
    """
    start = int(period.start.timestamp())
    end = math.ceil(period.end.timestamp())
    stretches = [(utc(start), _offset(period.start, zone))]
    probe = start
    while probe < end:
        step = min(probe + 86_400, end)
        current = stretches[-1][1]
        if _offset(utc(step), zone) != current:
            low, high = probe, step  # the offset is ``current`` at low, not at high
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(utc(middle), zone) == current:
                    low = middle
                else:
                    high = middle
            moment = utc(high)
            stretches.append((moment, _offset(moment, zone)))
        probe = step
    return stretches


def _local_day(
    session: AsyncSession, column: Any, period: Period, zone: tzinfo
) -> ColumnElement[Any]:
    """``YYYY-MM-DD`` of ``column`` (a UTC end time in ``period``) in ``zone``."""
    stretches = offset_changes(period, zone)
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite and all(not offset for _, offset in stretches):
        return func.substr(column, 1, 10)  # stored as naive UTC "YYYY-MM-DD HH:MM:SS"

    def shift(offset: timedelta) -> Any:
        if sqlite:
            return literal(f"{int(offset.total_seconds()):+d} seconds")
        return literal(offset, Interval())

    # Latest stretch first: each WHEN is one comparison on the row's end time.
    shifted: Any = shift(stretches[0][1])
    if len(stretches) > 1:
        shifted = case(
            *[(column >= since, shift(offset)) for since, offset in reversed(stretches[1:])],
            else_=shifted,
        )
    if sqlite:
        return func.date(column, shifted)
    return func.to_char(func.timezone("UTC", column) + shifted, "YYYY-MM-DD")


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def local_days(period: Period, zone: tzinfo) -> list[date]:
    """Every calendar day in ``zone`` that ``period`` touches, in order."""
    first = period.start.astimezone(zone).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _day_ranges(period: Period, days: list[date], zone: tzinfo) -> list[tuple[datetime, datetime]]:
    cuts = [datetime.combine(day, time(), zone).astimezone(UTC) for day in days[1:]]
    edges = [period.start, *cuts, period.end]
    return list(itertools.pairwise(edges))


async def _day_sums(
    session: AsyncSession, period: Period, days: list[date], did: str | None, zone: tzinfo
) -> list[HourSums]:
    """``hour_sums`` per local day: hours grouped by day in SQL when no day splits an hour."""
    stretches = offset_changes(period, zone)
    hours, edges = split(period.start, period.end)
    whole = all(offset.total_seconds() % 3600 == 0 for _, offset in stretches)
    if hours is None or not whole:  # zones off the hour: each day's range on its own
        return await range_sums(session, _day_ranges(period, days, zone), did)
    index = {d.isoformat(): n for n, d in enumerate(days)}
    totals = [HourSums() for _ in days]
    day = _local_day(session, CallHour.hour, Period(*hours), zone).label("day")
    query = (
        select(day, *(func.sum(getattr(CallHour, n)) for n in SUMS))
        .where(CallHour.hour >= hours[0], CallHour.hour < hours[1])
        .group_by(day)
    )
    for row in await session.execute(query if did is None else query.where(CallHour.did == did)):
        if (n := index.get(str(row[0]))) is not None:
            totals[n] = HourSums(*(int(v or 0) for v in row[1:]))
    # The period's partial hours lie within one local day each (the offset is whole hours).
    for (start, _end), sums in zip(edges, await range_sums(session, edges, did), strict=True):
        n = index[start.astimezone(zone).date().isoformat()]
        totals[n] = totals[n] + sums
    return totals


async def daily_series(
    session: AsyncSession,
    period: Period,
    did: str | None,
    currency: str,
    zone: tzinfo = UTC,
) -> DailySeries:
    """Calls, texts, replies, bookings and revenue per day in ``zone``."""
    days = local_days(period, zone)
    per_day = await _day_sums(session, period, days, did, zone)

    def day(calls: Any) -> Any:
        return _local_day(session, calls.c.ended_at, period, zone).label("day")

    bookings = await session.execute(standing_bookings(period, did, currency, by=day))
    index = {d.isoformat(): n for n, d in enumerate(days)}
    size = len(days)
    inbound, miss, reply = [0] * size, [0] * size, [0] * size
    sent, deliv, booked, revenue = [0] * size, [0] * size, [0] * size, [0.0] * size
    scale = 10 ** minor_exponent(currency)
    for n, sums in enumerate(per_day):
        inbound[n], miss[n], reply[n] = sums.calls, sums.missed, sums.replied
        sent[n], deliv[n] = sums.texted, sums.delivered
    for key, b, value in bookings:
        if (at := index.get(str(key))) is not None:
            booked[at], revenue[at] = int(b), int(value) / scale
    return DailySeries(days, inbound, miss, sent, deliv, reply, booked, revenue)


async def status_counts(session: AsyncSession) -> dict[str, int]:
    """Messages per status, only the statuses that have any (the ``/metrics`` gauge)."""
    rows = await session.execute(
        select(Message.status, func.count(Message.id)).group_by(Message.status)
    )
    return {MessageStatus(status).value: int(count) for status, count in rows}


async def outbox_depth(session: AsyncSession) -> dict[str, int]:
    """Messages per status (every status listed, zero included)."""
    counts = {status.value: 0 for status in MessageStatus}
    counts.update(await status_counts(session))
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
