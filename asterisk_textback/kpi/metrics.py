"""KPI queries: a handful of SQL aggregates per period, the same on SQLite and PostgreSQL.

Every KPI is computed over one cohort: inbound calls that ended in ``[start, end)`` (and to
one DID, if given), plus everything that followed from them — texts, replies, opt-outs and
bookings — whenever it happened. No query loads rows into Python: counts and sums come back
as one row, and the response-time percentiles as one value each (``ORDER BY .. OFFSET``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.calls.model import Direction, Outcome
from asterisk_textback.kpi.definitions import Kpi, ratio
from asterisk_textback.kpi.periods import Period
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.store.models import (
    Booking,
    BookingStatus,
    Call,
    Contact,
    InboundKind,
    InboundMessage,
    Message,
    MessageStatus,
)

__all__ = [
    "MISSED_OUTCOMES",
    "NOT_SMS_CAPABLE",
    "TEXTBACK_KIND",
    "KpiReport",
    "booked",
    "cohort",
    "compute_kpis",
    "minor_exponent",
    "replied",
]

MISSED_OUTCOMES: Final = (Outcome.MISSED_VOICEMAIL, Outcome.MISSED_NO_VOICEMAIL)
#: Suppress reasons that say the number cannot receive texts (not rules or history).
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
TEXTBACK_KIND: Final = "textback"
_ZERO_DECIMAL: Final = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "XAF", "XOF", "PYG", "UGX"})
_PERCENTILES: Final = (("time_to_first_response_p50", 0.5), ("time_to_first_response_p90", 0.9))


def minor_exponent(currency: str) -> int:
    """Digits after the decimal point of ``currency`` (2 unless it has no minor unit)."""
    return 0 if currency.upper() in _ZERO_DECIMAL else 2


@dataclass(frozen=True, slots=True)
class KpiReport:
    """The KPIs of one period (and DID), in DESIGN §8 order."""

    period: Period
    did: str | None
    currency: str
    kpis: tuple[Kpi, ...]

    def __getitem__(self, key: str) -> Kpi:
        """The KPI called ``key``; KeyError when there is none."""
        for kpi in self.kpis:
            if kpi.key == key:
                return kpi
        raise KeyError(key)

    def value(self, key: str) -> float | None:
        """Shortcut for ``report[key].value``."""
        return self[key].value

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "period": {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()},
            "did": self.did,
            "currency": self.currency,
            "kpis": [kpi.as_dict() for kpi in self.kpis],
        }


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


def replied(kind: InboundKind = InboundKind.REPLY) -> ColumnElement[bool]:
    """EXISTS: the call got an inbound text of ``kind``."""
    return exists().where(InboundMessage.call_id == Call.id, InboundMessage.kind == kind)


def booked() -> ColumnElement[bool]:
    """EXISTS: a standing booking is attributed to the call."""
    return exists().where(Booking.call_id == Call.id, Booking.status == BookingStatus.BOOKED)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def _call_counts(
    session: AsyncSession, period: Period, did: str | None, min_chars: int
) -> Sequence[Any]:
    missed = Call.outcome.in_(MISSED_OUTCOMES)
    capable = and_(
        missed,
        Call.caller_e164.is_not(None),
        or_(Call.suppress_reason.is_(None), Call.suppress_reason.not_in(NOT_SMS_CAPABLE)),
        or_(Contact.sms_capable.is_(None), Contact.sms_capable.is_(True)),
    )
    long_reply = exists().where(
        InboundMessage.call_id == Call.id,
        InboundMessage.kind == InboundKind.REPLY,
        func.length(func.trim(InboundMessage.body)) >= min_chars,
    )
    has_reply = replied()
    row = (
        await session.execute(
            select(
                func.count(Call.id),
                _count_if(missed),
                _count_if(capable),
                _count_if(and_(missed, has_reply)),
                _count_if(and_(missed, has_reply, or_(long_reply, booked()))),
                _count_if(and_(missed, replied(InboundKind.STOP))),
            )
            .select_from(Call)
            .outerjoin(Contact, Contact.e164 == Call.caller_e164)
            .where(*cohort(period, did))
        )
    ).one()
    return tuple(int(v) for v in row)


async def _text_counts(session: AsyncSession, period: Period, did: str | None) -> Sequence[int]:
    textback = and_(Message.kind == TEXTBACK_KIND, Call.outcome.in_(MISSED_OUTCOMES))
    delivered = or_(Message.delivered_at.is_not(None), Message.status == MessageStatus.DELIVERED)
    row = (
        await session.execute(
            select(
                _count_if(textback),
                _count_if(and_(textback, delivered)),
                func.coalesce(func.sum(Message.segments), 0),
            )
            .select_from(Message)
            .join(Call, Message.call_id == Call.id)
            .where(Message.sent_at.is_not(None), *cohort(period, did))
        )
    ).one()
    return tuple(int(v) for v in row)


async def _booking_totals(
    session: AsyncSession, period: Period, did: str | None, currency: str
) -> tuple[int, int]:
    same_currency = or_(Booking.currency.is_(None), func.upper(Booking.currency) == currency)
    row = (
        await session.execute(
            select(
                func.count(Booking.id),
                func.coalesce(func.sum(case((same_currency, Booking.value_minor), else_=0)), 0),
            )
            .select_from(Booking)
            .join(Call, Booking.call_id == Call.id)
            .where(
                Booking.status == BookingStatus.BOOKED,
                Call.outcome.in_(MISSED_OUTCOMES),
                *cohort(period, did),
            )
        )
    ).one()
    return int(row[0]), int(row[1])


def _delay_seconds(session: AsyncSession, later: Any, earlier: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


async def _response_percentiles(
    session: AsyncSession, period: Period, did: str | None
) -> list[Kpi]:
    first = (
        select(
            Call.id.label("call_id"),
            Call.ended_at.label("ended_at"),
            func.min(Message.sent_at).label("first_sent"),
        )
        .join(Message, Message.call_id == Call.id)
        .where(
            Message.kind == TEXTBACK_KIND,
            Message.sent_at.is_not(None),
            Call.outcome.in_(MISSED_OUTCOMES),
            *cohort(period, did),
        )
        .group_by(Call.id, Call.ended_at)
        .subquery()
    )
    delay = _delay_seconds(session, first.c.first_sent, first.c.ended_at)
    # One pass over the cohort (not one per percentile): the delays, sorted here.
    rows = await session.scalars(select(delay))
    values = sorted(max(float(v), 0.0) for v in rows if v is not None)
    kpis = []
    for key, share in _PERCENTILES:
        if not values:
            kpis.append(Kpi(key, None, None, 0))
            continue
        rank = max(math.ceil(share * len(values)), 1)  # nearest-rank percentile
        kpis.append(Kpi(key, round(values[rank - 1], 3), None, len(values)))
    return kpis


async def compute_kpis(
    session: AsyncSession,
    period: Period,
    did: str | None = None,
    settings: KpiSettings | None = None,
) -> KpiReport:
    """Every DESIGN §8 KPI for the period's cohort (A/B lift: see ``experiments``)."""
    settings = settings or KpiSettings()
    currency = settings.currency.upper()
    inbound, missed, capable, replies, qualified, stops = await _call_counts(
        session, period, did, settings.qualified_min_chars
    )
    sent, delivered, segments = await _text_counts(session, period, did)
    bookings, revenue_minor = await _booking_totals(session, period, did, currency)
    revenue = revenue_minor / 10 ** minor_exponent(currency)
    cost = (
        settings.sms_cost_per_segment * segments
        + (settings.software_cost_per_month + settings.labour_cost_per_month) * period.months
    )
    kpis = [
        Kpi("inbound_calls", inbound),
        Kpi("missed_calls", missed),
        ratio("missed_call_rate", missed, inbound),
        Kpi("texts_sent", sent),
        ratio("auto_text_send_rate", sent, missed),
        ratio("delivery_rate", delivered, sent),
        *await _response_percentiles(session, period, did),
        ratio("reply_rate", replies, delivered),
        ratio("qualified_conversation_rate", qualified, replies),
        ratio("booking_rate", bookings, delivered),
        Kpi("revenue", revenue),
        ratio("revenue_per_missed_call", revenue, sent),
        Kpi("cost", round(cost, 6)),
        ratio("cost_per_booking", round(cost, 6), bookings),
        ratio("opt_out_rate", stops, delivered),
        ratio("contactability", capable, missed),
    ]
    return KpiReport(period, did, currency, tuple(kpis))
