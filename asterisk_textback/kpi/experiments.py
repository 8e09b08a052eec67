"""A/B results from the database: per-variant counts (one aggregate query) fed to ``stats``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.kpi.metrics import MISSED_OUTCOMES, TEXTBACK_KIND, booked, cohort, replied
from asterisk_textback.kpi.periods import Period
from asterisk_textback.kpi.stats import Arm, Experiment, evaluate, factorial
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store.models import Call, Message
from asterisk_textback.store.models import Experiment as ExperimentRow

__all__ = ["METRICS", "VariantCounts", "experiment_results", "variant_counts"]

#: What an experiment can be judged on: successes counted per delivered text.
METRICS = ("reply", "booking", "opt_out")
#: (experiment, variant) -> (hook, cta) labels from the templates' settings.
Labels = Mapping[tuple[str, str], tuple[str | None, str | None]]


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


def _sum(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def variant_counts(
    session: AsyncSession, period: Period, did: str | None = None
) -> list[VariantCounts]:
    """Per (experiment, variant): texts sent and delivered, and replies/bookings/STOPs."""
    delivered = or_(Message.delivered_at.is_not(None), Message.status == MessageStatus.DELIVERED)
    rows = await session.execute(
        select(
            ExperimentRow.name,
            ExperimentRow.variant,
            func.count(Message.id),
            _sum(delivered),
            _sum(and_(delivered, replied())),
            _sum(and_(delivered, booked())),
            _sum(and_(delivered, replied(InboundKind.STOP))),
        )
        .select_from(Message)
        .join(ExperimentRow, Message.experiment_id == ExperimentRow.id)
        .join(Call, Message.call_id == Call.id)
        .where(
            Message.kind == TEXTBACK_KIND,
            Message.sent_at.is_not(None),
            Call.outcome.in_(MISSED_OUTCOMES),
            *cohort(period, did),
        )
        .group_by(ExperimentRow.name, ExperimentRow.variant)
        .order_by(ExperimentRow.name, ExperimentRow.variant)
    )
    return [VariantCounts(str(r[0]), str(r[1]), *(int(v) for v in r[2:])) for r in rows]


async def experiment_results(
    session: AsyncSession,
    period: Period,
    did: str | None = None,
    *,
    metric: str = "reply",
    labels: Labels | None = None,
    controls: Mapping[str, str] | None = None,
    min_trials: int = 30,
) -> list[tuple[Experiment, dict[str, dict[str, Arm]]]]:
    """Each experiment evaluated on ``metric``, with its hook x CTA grid (empty if unlabelled)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}")
    by_experiment: dict[str, list[Arm]] = {}
    for counts in await variant_counts(session, period, did):
        hook, cta = (labels or {}).get((counts.experiment, counts.variant), (None, None))
        arm = Arm(counts.variant, counts.successes(metric), counts.delivered, hook, cta)
        by_experiment.setdefault(counts.experiment, []).append(arm)
    results = []
    for name, arms in sorted(by_experiment.items()):
        control = (controls or {}).get(name)
        experiment = evaluate(name, metric, arms, control, min_trials)
        results.append((experiment, factorial(arms)))
    return results
