"""KPI and A/B queries: a handful of SQL aggregates per period, the same on SQLite and PostgreSQL.

Every KPI is computed over one cohort: inbound calls that ended in ``[start, end)`` (and to
one DID, if given), plus everything that followed from them — texts, replies, opt-outs and
bookings — whenever it happened. No query loads rows into Python: counts and sums come back
as one row, and the response-time percentiles as one value each. ``kpi.metrics`` turns the
numbers into the DESIGN §8 report; ``kpi.experiments`` feeds the per-variant counts to
``kpi.stats``; ``kpi.calculator`` asks for missed calls and the average booking value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.bookings.status import BookingStatus
from asterisk_textback.calls.model import MISSED_OUTCOMES, Direction
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.kpi.definitions import Kpi
from asterisk_textback.kpi.periods import Period
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store._dialect import table_of
from asterisk_textback.store._hints import indexed_by
from asterisk_textback.store.hour_sums import NOT_SMS_CAPABLE, HourSums, range_sums
from asterisk_textback.store.models import Booking, Call, CallHour, InboundMessage, Message
from asterisk_textback.store.models import Experiment as ExperimentRow

__all__ = [
    "MISSED_OUTCOMES",
    "NOT_SMS_CAPABLE",
    "TEXTBACK_KIND",
    "VariantCounts",
    "average_booking_value_minor",
    "booked",
    "booking_totals",
    "call_counts",
    "cohort",
    "count_if",
    "missed_calls",
    "replied",
    "response_percentiles",
    "text_counts",
    "variant_counts",
]

TEXTBACK_KIND: Final = "textback"
_PERCENTILES: Final = (("time_to_first_response_p50", 0.5), ("time_to_first_response_p90", 0.9))


def cohort(period: Period, did: str | None) -> list[ColumnElement[bool]]:
    """WHERE clauses selecting the period's inbound calls (to ``did``, if given)."""
    clauses = [
        Call.direction == Direction.INBOUND,
        Call.ended_at >= period.start,
        Call.ended_at < period.end,
    ]
    if did is not None:
        clauses.append(Call.did == did)
    return clauses


def cohort_of(calls: Any, period: Period, did: str | None) -> list[ColumnElement[bool]]:
    """:func:`cohort` on an alias of ``calls`` (see ``store._hints``)."""
    clauses = [
        calls.c.direction == Direction.INBOUND,
        calls.c.ended_at >= period.start,
        calls.c.ended_at < period.end,
    ]
    if did is not None:
        clauses.append(calls.c.did == did)
    return clauses


def replied(kind: InboundKind = InboundKind.REPLY) -> ColumnElement[bool]:
    """EXISTS: the call got an inbound text of ``kind``."""
    return exists().where(InboundMessage.call_id == Call.id, InboundMessage.kind == kind)


def booked() -> ColumnElement[bool]:
    """EXISTS: a standing booking is attributed to the call."""
    return exists().where(Booking.call_id == Call.id, Booking.status == BookingStatus.BOOKED)


def count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """SUM of 1 where ``condition`` holds (0 when there are no rows)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def _sums(session: AsyncSession, period: Period, did: str | None) -> HourSums:
    return (await range_sums(session, [(period.start, period.end)], did))[0]


async def call_counts(
    session: AsyncSession, period: Period, did: str | None, min_chars: int
) -> Sequence[Any]:
    """Inbound, missed, SMS-capable, replied, qualified and STOPped calls of the cohort."""
    sums = await _sums(session, period, did)
    # Qualified depends on a setting (the reply length), so it is counted from the replied
    # calls themselves: few, and read through a partial index on them.
    calls = indexed_by(table_of(Call), "ix_calls_replied")
    qualified = await session.scalar(
        select(func.count())
        .select_from(calls)
        .where(
            calls.c.first_reply_at.is_not(None),
            *cohort_of(calls, period, did),
            calls.c.outcome.in_(MISSED_OUTCOMES),
            or_(calls.c.reply_chars >= min_chars, calls.c.booked_at.is_not(None)),
        )
    )
    return (
        sums.calls,
        sums.missed,
        sums.capable,
        sums.replied,
        int(qualified or 0),
        sums.stopped,
    )


async def text_counts(session: AsyncSession, period: Period, did: str | None) -> Sequence[int]:
    """Text-backs sent, of them delivered, and segments of every text sent for the cohort."""
    sums = await _sums(session, period, did)
    return sums.texted, sums.delivered, sums.segments


def booked_calls() -> Any:
    """``calls`` read through its index of booked calls (few: not every booking's call)."""
    return indexed_by(table_of(Call), "ix_calls_booked")


def standing_bookings(
    period: Period, did: str | None, currency: str, by: Callable[[Any], Any] | None = None
) -> Any:
    """Count and value (minor units of ``currency``) of the standing bookings of the cohort's
    missed calls: one row, or one per ``by(calls)`` (e.g. the local day), that column first."""
    same_currency = or_(Booking.currency.is_(None), func.upper(Booking.currency) == currency)
    calls = booked_calls()
    keys = [] if by is None else [by(calls)]
    query = (
        select(
            *keys,
            func.count(Booking.id),
            func.coalesce(func.sum(case((same_currency, Booking.value_minor), else_=0)), 0),
        )
        .select_from(calls)
        .join(Booking, Booking.call_id == calls.c.id)
        .where(
            calls.c.booked_at.is_not(None),  # every call with a standing booking has it
            Booking.status == BookingStatus.BOOKED,
            calls.c.outcome.in_(MISSED_OUTCOMES),
            *cohort_of(calls, period, did),
        )
    )
    return query.group_by(*keys) if keys else query


async def booking_totals(
    session: AsyncSession, period: Period, did: str | None, currency: str
) -> tuple[int, int]:
    """Standing bookings of the cohort's missed calls and their value in minor units."""
    row = (await session.execute(standing_bookings(period, did, currency))).one()
    return int(row[0]), int(row[1])


async def _nth_delay(
    session: AsyncSession, period: Period, did: str | None, rank: int, count: int, total: int
) -> float:
    """The ``rank``-th smallest delay (1-based) of the period's ``count`` (of ``total``)."""
    share = count / max(total, count, 1)
    from_top = count - rank + 1 < rank
    walk = min(rank, count - rank + 1) / share
    # Walking the index of every delay in order reaches the rank after about rank / share
    # entries (share: the period's part of all delays), from whichever end is nearer; sorting
    # the period's delays costs a few entries' worth each. Take the cheaper.
    if walk <= 4 * count:
        calls = indexed_by(table_of(Call), "ix_calls_response")
        delay = calls.c.response_seconds
        order = delay.desc() if from_top else delay
        offset = count - rank if from_top else rank - 1
    else:
        calls = indexed_by(table_of(Call), "ix_calls_response_by_time")
        delay = calls.c.response_seconds
        order, offset = delay, rank - 1
    query = select(delay).where(
        delay.is_not(None),
        calls.c.ended_at >= period.start,
        calls.c.ended_at < period.end,
        *([] if did is None else [calls.c.did == did]),
    )
    value = await session.scalar(query.order_by(order).offset(offset).limit(1))
    return max(float(value or 0.0), 0.0)


async def response_percentiles(session: AsyncSession, period: Period, did: str | None) -> list[Kpi]:
    """Median and p90 seconds from a missed call's end to its first text-back."""
    # ``calls.response_seconds`` is set (by trigger) only on texted missed inbound calls.
    count = (await _sums(session, period, did)).responded
    total = int(await session.scalar(select(func.coalesce(func.sum(CallHour.responded), 0))) or 0)
    kpis = []
    for key, share in _PERCENTILES:
        if not count:
            kpis.append(Kpi(key, None, None, 0))
            continue
        rank = max(math.ceil(share * count), 1)  # nearest-rank percentile
        value = await _nth_delay(session, period, did, rank, count, total)
        kpis.append(Kpi(key, round(value, 3), None, count))
    return kpis


@dataclass(frozen=True, slots=True)
class VariantCounts:
    """Texts delivered for one variant of one experiment and what they led to."""

    experiment: str
    variant: str
    sent: int
    delivered: int
    replies: int
    bookings: int
    opt_outs: int

    def successes(self, metric: str) -> int:
        """Successes for ``metric`` ("reply", "booking" or "opt_out")."""
        return {"reply": self.replies, "booking": self.bookings, "opt_out": self.opt_outs}[metric]


async def variant_counts(
    session: AsyncSession, period: Period, did: str | None = None
) -> list[VariantCounts]:
    """Per (experiment, variant): texts sent and delivered, and replies/bookings/STOPs."""
    if await session.scalar(select(ExperimentRow.id).limit(1)) is None:
        return []  # no A/B test ever ran: nothing to read
    texts = indexed_by(table_of(Message), "ix_messages_experiment_id")
    delivered = or_(texts.c.delivered_at.is_not(None), texts.c.status == MessageStatus.DELIVERED)
    rows = await session.execute(
        select(
            ExperimentRow.name,
            ExperimentRow.variant,
            func.count(texts.c.id),
            count_if(delivered),
            count_if(and_(delivered, Call.first_reply_at.is_not(None))),
            count_if(and_(delivered, Call.booked_at.is_not(None))),
            count_if(and_(delivered, Call.opted_out_at.is_not(None))),
        )
        .select_from(ExperimentRow)
        # From the experiments' texts, not from every call of the period.
        .join(texts, texts.c.experiment_id == ExperimentRow.id)
        .join(Call, texts.c.call_id == Call.id)
        .where(
            texts.c.kind == TEXTBACK_KIND,
            texts.c.sent_at.is_not(None),
            Call.outcome.in_(MISSED_OUTCOMES),
            *cohort(period, did),
        )
        .group_by(ExperimentRow.name, ExperimentRow.variant)
        .order_by(ExperimentRow.name, ExperimentRow.variant)
    )
    return [VariantCounts(str(r[0]), str(r[1]), *(int(v) for v in r[2:])) for r in rows]


async def average_booking_value_minor(
    session: AsyncSession, currency: str, until: Period | None = None
) -> float | None:
    """Mean value (minor units) of the standing bookings in ``currency``, booked before the end."""
    query = select(func.avg(Booking.value_minor)).where(
        Booking.status == BookingStatus.BOOKED,
        Booking.value_minor.is_not(None),
        or_(Booking.currency.is_(None), func.upper(Booking.currency) == currency.upper()),
    )
    if until is not None:
        query = query.where(Booking.booked_at < until.end)
    mean = await session.scalar(query)
    return None if mean is None else float(mean)


async def missed_calls(session: AsyncSession, period: Period, did: str | None) -> int:
    """Missed inbound calls of the cohort (the calculator's input)."""
    return (await _sums(session, period, did)).missed
