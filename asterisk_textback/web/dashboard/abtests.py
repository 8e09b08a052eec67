"""Experiments judged on replies and bookings from one per-variant count query."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.kpi.experiments import VariantCounts, variant_counts
from asterisk_textback.kpi.periods import Period
from asterisk_textback.kpi.stats import Arm, Comparison, Experiment, evaluate, factorial

__all__ = ["JUDGED_ON", "ExperimentView", "experiment_views"]

#: The metrics every experiment is shown on.
JUDGED_ON = ("reply", "booking")
Labels = Mapping[tuple[str, str], tuple[str | None, str | None]]


@dataclass(frozen=True, slots=True)
class ExperimentView:
    """One experiment: raw counts per variant and its evaluation on each metric."""

    name: str
    counts: tuple[VariantCounts, ...]
    results: dict[str, Experiment]
    grids: dict[str, dict[str, dict[str, Arm]]]
    #: What the rates are over: "delivered" texts, or "sent" while no delivery report came.
    over: str = "delivered"

    @property
    def is_test(self) -> bool:
        """Two variants or more had texts: a template with one variant is not an A/B test."""
        return len(self.counts) > 1

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "name": self.name,
            "rates_over": self.over,
            "variants": [
                {
                    "variant": c.variant,
                    "sent": c.sent,
                    "delivered": c.delivered,
                    "replies": c.replies,
                    "bookings": c.bookings,
                    "opt_outs": c.opt_outs,
                }
                for c in self.counts
            ],
            "metrics": {
                metric: {
                    "control": result.control,
                    "arms": [_arm(a) for a in result.arms],
                    "comparisons": [_comparison(c) for c in result.comparisons],
                    "hook_x_cta": {
                        hook: {cta: _arm(arm) for cta, arm in row.items()}
                        for hook, row in self.grids[metric].items()
                    },
                }
                for metric, result in self.results.items()
            },
        }


def _arm(arm: Arm) -> dict[str, Any]:
    return {
        "name": arm.name,
        "successes": arm.successes,
        "trials": arm.trials,
        "rate": arm.rate,
        "ci95": None if arm.interval is None else list(arm.interval),
        "hook": arm.hook,
        "cta": arm.cta,
    }


def _comparison(c: Comparison) -> dict[str, Any]:
    return {
        "variant": c.variant,
        "control": c.control,
        "difference": c.difference,
        "difference_ci95": None if c.difference_interval is None else list(c.difference_interval),
        "lift": c.lift,
        "p_value": c.p_value,
        "enough_data": c.enough_data,
        "verdict": c.verdict,
    }


async def experiment_views(
    session: AsyncSession,
    period: Period,
    did: str | None,
    *,
    labels: Labels,
    controls: Mapping[str, str],
    min_trials: int,
) -> list[ExperimentView]:
    """Every experiment with texts in the period, evaluated on replies and bookings."""
    grouped: dict[str, list[VariantCounts]] = {}
    for counts in await variant_counts(session, period, did):
        grouped.setdefault(counts.experiment, []).append(counts)
    views = []
    for name, rows in sorted(grouped.items()):
        results, grids = {}, {}
        # No delivery report for any variant: judge over texts sent, as the Overview does.
        over = "delivered" if any(c.delivered for c in rows) else "sent"
        for metric in JUDGED_ON:
            arms = [
                Arm(
                    c.variant,
                    c.successes(metric),
                    c.delivered if over == "delivered" else c.sent,
                    *labels.get((name, c.variant), (None, None)),
                )
                for c in rows
            ]
            control = controls.get(name)
            if control is not None and control not in {c.variant for c in rows}:
                control = None  # the control has no texts in this period yet
            results[metric] = evaluate(name, metric, arms, control, min_trials)
            grids[metric] = factorial(arms)
        views.append(ExperimentView(name, tuple(rows), results, grids, over))
    return views
