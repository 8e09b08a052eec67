"""The DESIGN §8 KPI report of one period, from the aggregates in ``store.kpi_queries``.

Every KPI is computed over one cohort: inbound calls that ended in ``[start, end)`` (and to
one DID, if given), plus everything that followed from them — texts, replies, opt-outs and
bookings — whenever it happened. No query loads rows into Python: counts and sums come back
as one row, and the response-time percentiles as one value each (``ORDER BY .. OFFSET``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.kpi.definitions import Kpi, minor_exponent, ratio
from asterisk_textback.kpi.periods import Period
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.store import kpi_queries
from asterisk_textback.store.kpi_queries import MISSED_OUTCOMES, NOT_SMS_CAPABLE, TEXTBACK_KIND

__all__ = [
    "MISSED_OUTCOMES",
    "NOT_SMS_CAPABLE",
    "TEXTBACK_KIND",
    "KpiReport",
    "compute_kpis",
    "minor_exponent",
]


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


async def compute_kpis(
    session: AsyncSession,
    period: Period,
    did: str | None = None,
    settings: KpiSettings | None = None,
) -> KpiReport:
    """Every DESIGN §8 KPI for the period's cohort (A/B lift: see ``experiments``)."""
    settings = settings or KpiSettings()
    currency = settings.currency.upper()
    inbound, missed, capable, replies, qualified, stops = await kpi_queries.call_counts(
        session, period, did, settings.qualified_min_chars
    )
    sent, delivered, segments = await kpi_queries.text_counts(session, period, did)
    bookings, revenue_minor = await kpi_queries.booking_totals(session, period, did, currency)
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
        *await kpi_queries.response_percentiles(session, period, did),
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
