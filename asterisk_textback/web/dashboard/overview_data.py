"""Everything the Overview shows, read in one report-worker call and one database session.

One call instead of four: a page load holds one of the worker's pending slots (so a reload
storm is still bounded by ``ReportWorker``'s ``max_pending``), pays for one engine and one
session in the worker process, and reads the KPIs, the day series, the A/B results and the
compliance counts from the same snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo

from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.kpi.metrics import KpiReport, compute_kpis
from asterisk_textback.kpi.periods import Period
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.store.daily_series import DailySeries, daily_series
from asterisk_textback.store.verification import unverified_held
from asterisk_textback.web.dashboard.abtests import ExperimentView, Labels, experiment_views

__all__ = ["OverviewData", "overview_data"]


@dataclass(frozen=True, slots=True)
class OverviewData:
    """The Overview's figures for one period and DID (pickles: it crosses processes)."""

    kpis: KpiReport
    series: DailySeries
    views: list[ExperimentView]
    #: Texts held back because the caller ID was not verified (the Compliance group).
    unverified_held: int


async def overview_data(
    session: AsyncSession,
    period: Period,
    did: str | None,
    settings: KpiSettings,
    zone: tzinfo,
    *,
    labels: Labels,
    controls: Mapping[str, str],
) -> OverviewData:
    """The KPIs, the per-day series, the experiments and the held count, in one session."""
    currency = settings.currency.upper()
    return OverviewData(
        kpis=await compute_kpis(session, period, did, settings),
        series=await daily_series(session, period, did, currency, zone),
        views=await experiment_views(
            session,
            period,
            did,
            labels=labels,
            controls=controls,
            min_trials=settings.min_sample_per_variant,
        ),
        unverified_held=await unverified_held(session, period, did),
    )
