"""The DESIGN §8 KPI report of one period, from the aggregates in ``store.kpi_queries``.

Every KPI is computed over one cohort: inbound calls that ended in ``[start, end)`` (and to
one DID, if given), plus everything that followed from them — texts, replies, opt-outs and
bookings — whenever it happened. No query loads rows into Python: counts and sums come back
as one row, and the response-time percentiles as one value each (``ORDER BY .. OFFSET``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    "NO_COSTS",
    "NO_REPORTS",
    "TEXTBACK_KIND",
    "KpiReport",
    "compute_kpis",
    "minor_exponent",
]


#: The delivery rate's note when texts were sent but no delivery report has arrived.
NO_REPORTS = "no delivery reports yet"


#: The cost's note when no cost is configured (so 0.00 is not read as "free").
NO_COSTS = (
    "no costs set: [kpi] sms_cost_per_segment, software_cost_per_month, labour_cost_per_month"
)


def _costs_set(settings: KpiSettings) -> bool:
    return any(
        (
            settings.sms_cost_per_segment,
            settings.software_cost_per_month,
            settings.labour_cost_per_month,
        )
    )


@dataclass(frozen=True, slots=True)
class KpiReport:
    """The KPIs of one period (and DID), in DESIGN §8 order."""

    period: Period
    did: str | None
    currency: str
    kpis: tuple[Kpi, ...]
    #: False when texts were sent but no delivery report arrived (the ``log`` provider, or
    #: no status webhook yet): per-text rates are then over texts sent.
    delivery_reports: bool = True

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
            "delivery_reports": self.delivery_reports,
            # What each rate is over and why one is missing (kept out of the CSV's columns).
            "kpis": [
                {**kpi.as_dict(), "denominator_label": kpi.over, "note": kpi.note}
                for kpi in self.kpis
            ],
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
    # Without any delivery report, "delivered" is unknown, not zero: rates per text fall back
    # to texts sent (and say so) instead of showing n/a next to replies that did arrive.
    reports = delivered > 0 or sent == 0
    base, over = (delivered, "texts delivered") if reports else (sent, "texts sent")
    delivery = (
        ratio("delivery_rate", delivered, sent, "texts sent")
        if reports
        else Kpi("delivery_rate", None, None, sent, "texts sent", NO_REPORTS)
    )
    kpis = [
        Kpi("inbound_calls", inbound),
        Kpi("missed_calls", missed),
        ratio("missed_call_rate", missed, inbound, "inbound calls"),
        Kpi("texts_sent", sent),
        ratio("auto_text_send_rate", sent, missed, "missed calls"),
        delivery,
        *[
            replace(kpi, over="texted missed calls")
            for kpi in await kpi_queries.response_percentiles(session, period, did)
        ],
        ratio("reply_rate", replies, base, over),
        ratio("qualified_conversation_rate", qualified, replies, "replies"),
        ratio("booking_rate", bookings, base, over),
        Kpi("revenue", revenue),
        ratio("revenue_per_missed_call", revenue, sent, "texts sent"),
        Kpi("cost", round(cost, 6), note=None if _costs_set(settings) else NO_COSTS),
        ratio("cost_per_booking", round(cost, 6), bookings, "bookings"),
        ratio("opt_out_rate", stops, base, over),
        ratio("contactability", capable, missed, "missed calls"),
    ]
    return KpiReport(period, did, currency, tuple(kpis), reports)
