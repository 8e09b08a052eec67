"""A/B results: per-variant counts from ``store.kpi_queries`` (one aggregate) fed to ``stats``."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.kpi.periods import Period
from asterisk_textback.kpi.stats import Arm, Experiment, evaluate, factorial
from asterisk_textback.store.kpi_queries import VariantCounts, variant_counts

__all__ = ["METRICS", "VariantCounts", "experiment_results", "variant_counts"]

#: What an experiment can be judged on: successes counted per delivered text.
METRICS = ("reply", "booking", "opt_out")
#: (experiment, variant) -> (hook, cta) labels from the templates' settings.
Labels = Mapping[tuple[str, str], tuple[str | None, str | None]]


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
