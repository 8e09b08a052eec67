"""A/B statistics: Wilson intervals, Newcombe difference intervals, two-proportion z-test.

Each variant is a proportion: successes (replies, bookings) out of trials (texts delivered).
- Per variant: the 95% Wilson score interval.
- Variant vs control: the difference with Newcombe's hybrid score interval (method 10 of
  Newcombe 1998), the relative lift ``(p - p_control) / p_control``, and the two-sided
  p-value of the pooled two-proportion z-test.
- "Not enough data yet" unless both arms have at least ``min_trials`` trials and the pooled
  rate predicts at least 5 successes and 5 failures in each arm (the usual validity rule of
  the normal approximation behind the z-test).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "Arm",
    "Comparison",
    "Experiment",
    "compare",
    "enough",
    "evaluate",
    "factorial",
    "newcombe_interval",
    "two_proportion_p_value",
    "wilson_interval",
]

Z_95: Final = 1.959963984540054
_MIN_EXPECTED: Final = 5


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval for ``successes / trials``; None without trials."""
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError("successes must lie in [0, trials]")
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(
    x1: int, n1: int, x2: int, n2: int, z: float = Z_95
) -> tuple[float, float] | None:
    """Newcombe's hybrid score interval for ``x1/n1 - x2/n2``; None if an arm is empty."""
    first = wilson_interval(x1, n1, z)
    second = wilson_interval(x2, n2, z)
    if first is None or second is None:
        return None
    p1, p2 = x1 / n1, x2 / n2
    (l1, u1), (l2, u2) = first, second
    difference = p1 - p2
    lower = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return lower, upper


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None when it is undefined."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return None  # every trial succeeded (or none did): nothing to tell apart
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant's counts and its 95% interval."""

    name: str
    successes: int
    trials: int
    hook: str | None = None
    cta: str | None = None

    @property
    def rate(self) -> float | None:
        """successes / trials; None without trials."""
        return self.successes / self.trials if self.trials else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% Wilson interval of the rate."""
        return wilson_interval(self.successes, self.trials)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A variant against the control: difference, lift, interval, p-value, verdict."""

    variant: str
    control: str
    difference: float | None
    difference_interval: tuple[float, float] | None
    lift: float | None
    p_value: float | None
    enough_data: bool

    @property
    def significant(self) -> bool:
        """True when there is enough data and p < 0.05 (the interval then excludes 0)."""
        return self.enough_data and self.p_value is not None and self.p_value < 0.05

    @property
    def verdict(self) -> str:
        """A short human verdict for the dashboard."""
        if not self.enough_data:
            return "not enough data yet"
        if not self.significant or self.difference is None:
            return "no significant difference"
        return "better than control" if self.difference > 0 else "worse than control"


def enough(arm: Arm, control: Arm, min_trials: int) -> bool:
    """The minimum-sample rule (see the module docstring)."""
    if min(arm.trials, control.trials) < min_trials:
        return False
    pooled = (arm.successes + control.successes) / (arm.trials + control.trials)
    expected = (n * share for n in (arm.trials, control.trials) for share in (pooled, 1 - pooled))
    return all(value >= _MIN_EXPECTED for value in expected)


def compare(arm: Arm, control: Arm, min_trials: int = 30) -> Comparison:
    """Compare one variant with the control."""
    p, q = arm.rate, control.rate
    difference = None if p is None or q is None else p - q
    lift = None if difference is None or not q else difference / q
    return Comparison(
        variant=arm.name,
        control=control.name,
        difference=difference,
        difference_interval=newcombe_interval(
            arm.successes, arm.trials, control.successes, control.trials
        ),
        lift=lift,
        p_value=two_proportion_p_value(
            arm.successes, arm.trials, control.successes, control.trials
        ),
        enough_data=enough(arm, control, min_trials),
    )


@dataclass(frozen=True, slots=True)
class Experiment:
    """An experiment's arms, which is the control, and each other arm against it."""

    name: str
    metric: str
    control: str
    arms: tuple[Arm, ...]
    comparisons: tuple[Comparison, ...]

    @property
    def enough_data(self) -> bool:
        """True when every comparison has enough data."""
        return bool(self.comparisons) and all(c.enough_data for c in self.comparisons)


def evaluate(
    name: str,
    metric: str,
    arms: Sequence[Arm],
    control: str | None = None,
    min_trials: int = 30,
) -> Experiment:
    """Compare every arm with the control: ``control``, else "control", else the first by name."""
    ordered = sorted(arms, key=lambda a: a.name)
    names = [a.name for a in ordered]
    if not ordered:
        raise ValueError("an experiment needs at least one arm")
    chosen = control or ("control" if "control" in names else names[0])
    if chosen not in names:
        raise ValueError(f"control {chosen!r} is not one of the variants {names}")
    base = ordered[names.index(chosen)]
    comparisons = tuple(compare(a, base, min_trials) for a in ordered if a.name != chosen)
    return Experiment(name, metric, chosen, tuple(ordered), comparisons)


def factorial(
    arms: Sequence[Arm], labels: Mapping[str, tuple[str | None, str | None]] | None = None
) -> dict[str, dict[str, Arm]]:
    """The hook x CTA view: arms pooled into cells ``{hook: {cta: Arm}}`` by their labels."""
    cells: dict[tuple[str, str], tuple[int, int]] = {}
    for arm in arms:
        hook, cta = labels.get(arm.name, (arm.hook, arm.cta)) if labels else (arm.hook, arm.cta)
        if hook is None or cta is None:
            continue
        successes, trials = cells.get((hook, cta), (0, 0))
        cells[(hook, cta)] = (successes + arm.successes, trials + arm.trials)
    grid: dict[str, dict[str, Arm]] = {}
    for (hook, cta), (successes, trials) in sorted(cells.items()):
        grid.setdefault(hook, {})[cta] = Arm(f"{hook} x {cta}", successes, trials, hook, cta)
    return grid
