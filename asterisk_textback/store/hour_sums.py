"""KPI sums over any time ranges: whole UTC hours from ``call_hours``, the rest from calls.

``call_hours`` holds, per UTC hour and DID, the sums of the per-call flags of the inbound
calls that ended in that hour (kept by the triggers of migration 0007). A range
``[start, end)`` is read as the whole hours inside it (one row per hour and DID) plus its
partial hours at either end, summed from the calls themselves with the same expressions the
triggers use (:func:`contributions`). So a year is ~9,000 small rows, not a million calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.model import MISSED_OUTCOMES, Direction
from asterisk_textback.store.models import Call, CallHour

__all__ = ["SUMS", "HourSums", "contributions", "missed", "range_sums", "split"]

#: The summed columns, in ``HourSums`` order.
SUMS: Final = (
    "calls",
    "missed",
    "capable",
    "replied",
    "stopped",
    "texted",
    "delivered",
    "segments",
    "responded",
)
_HOUR: Final = timedelta(hours=1)
#: Arms per UNION ALL statement (SQLite refuses compound SELECTs of over 500 parts).
_ARMS_PER_QUERY: Final = 200
#: Suppress reasons meaning the number cannot receive texts; the triggers hold a copy.
NOT_SMS_CAPABLE: Final = frozenset(
    {
        "anonymous",
        "short_code",
        "invalid_number",
        "toll_free",
        "premium",
        "shared_cost",
        "uan",
        "voip",
        "personal_number",
        "pager",
        "voicemail_number",
        "fixed_line",
        "landline",
    }
)


@dataclass(frozen=True, slots=True)
class HourSums:
    """The KPI sums of the inbound calls of one range (see ``SUMS``)."""

    calls: int = 0
    missed: int = 0
    capable: int = 0
    replied: int = 0
    stopped: int = 0
    texted: int = 0
    delivered: int = 0
    segments: int = 0
    responded: int = 0

    def __add__(self, other: HourSums) -> HourSums:
        """Field-wise sum."""
        return HourSums(*(getattr(self, n) + getattr(other, n) for n in SUMS))


def missed() -> ColumnElement[bool]:
    """The call was missed (voicemail or not)."""
    return Call.outcome.in_(MISSED_OUTCOMES)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return case((condition, 1), else_=0)


def contributions() -> list[ColumnElement[Any]]:
    """What one call adds to each sum (the triggers' expressions, for partial hours)."""
    m = missed()
    capable = (
        m
        & Call.caller_e164.is_not(None)
        & (Call.suppress_reason.is_(None) | Call.suppress_reason.not_in(NOT_SMS_CAPABLE))
        & Call.no_sms.is_(False)
    )
    return [
        literal(1),
        _flag(m),
        _flag(capable),
        _flag(m & Call.first_reply_at.is_not(None)),
        _flag(m & Call.opted_out_at.is_not(None)),
        case((m, Call.texts_sent), else_=0),
        case((m, Call.texts_delivered), else_=0),
        Call.segments_sent.expression,
        _flag(Call.response_seconds.is_not(None)),
    ]


def _floor(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def split(
    start: datetime, end: datetime
) -> tuple[tuple[datetime, datetime] | None, list[tuple[datetime, datetime]]]:
    """``[start, end)`` as (whole UTC hours or None, the partial stretches outside them)."""
    first = _floor(start)
    if first < start:
        first += _HOUR
    last = _floor(end)
    if first >= last:
        return None, [(start, end)]
    edges = [(a, b) for a, b in ((start, first), (last, end)) if a < b]
    return (first, last), edges


def _arms(ranges: Sequence[tuple[datetime, datetime]], did: str | None) -> list[Select[Any]]:
    arms: list[Select[Any]] = []
    hourly = [func.coalesce(func.sum(getattr(CallHour, n)), 0) for n in SUMS]
    raw = [func.coalesce(func.sum(c), 0) for c in contributions()]
    for n, (start, end) in enumerate(ranges):
        hours, edges = split(start, end)
        if hours is not None:
            query = select(*hourly, literal(n)).where(
                CallHour.hour >= hours[0], CallHour.hour < hours[1]
            )
            arms.append(query if did is None else query.where(CallHour.did == did))
        for low, high in edges:
            query = select(*raw, literal(n)).where(
                Call.direction == Direction.INBOUND, Call.ended_at >= low, Call.ended_at < high
            )
            arms.append(query if did is None else query.where(Call.did == did))
    return arms


async def range_sums(
    session: AsyncSession, ranges: Sequence[tuple[datetime, datetime]], did: str | None
) -> list[HourSums]:
    """The sums of each range of call end times (inbound calls, to ``did`` if given)."""
    totals = [HourSums() for _ in ranges]
    arms = _arms(ranges, did)
    for first in range(0, len(arms), _ARMS_PER_QUERY):
        chunk = arms[first : first + _ARMS_PER_QUERY]
        statement = chunk[0] if len(chunk) == 1 else union_all(*chunk)
        for row in await session.execute(statement):
            n = int(row[-1])
            totals[n] = totals[n] + HourSums(*(int(v or 0) for v in row[:-1]))
    return totals
