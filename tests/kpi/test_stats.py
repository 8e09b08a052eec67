"""A/B statistics against published and hand-computed reference values."""

from __future__ import annotations

import math

import pytest

from asterisk_textback.kpi.stats import (
    Arm,
    compare,
    enough,
    evaluate,
    factorial,
    newcombe_interval,
    two_proportion_p_value,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("x", "n", "lower", "upper"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857-872, table I, method 3 (Wilson).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_1998(x: int, n: int, lower: float, upper: float) -> None:
    """The Wilson score interval reproduces the published 95% limits."""
    interval = wilson_interval(x, n)
    assert interval is not None
    assert interval[0] == pytest.approx(lower, abs=1e-4)
    assert interval[1] == pytest.approx(upper, abs=1e-4)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "lower", "upper"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10.
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
    ],
)
def test_newcombe_difference_matches_published_limits(
    x1: int, n1: int, x2: int, n2: int, lower: float, upper: float
) -> None:
    """The hybrid score interval for a difference reproduces the published limits."""
    interval = newcombe_interval(x1, n1, x2, n2)
    assert interval is not None
    assert interval[0] == pytest.approx(lower, abs=1e-4)
    assert interval[1] == pytest.approx(upper, abs=1e-4)


def test_z_test_hand_computed() -> None:
    """50/100 vs 30/100: pooled 0.4, se = sqrt(0.0048), z = 2.8868, p = 0.003892."""
    z = 0.2 / math.sqrt(0.4 * 0.6 * (2 / 100))
    assert z == pytest.approx(2.886751, abs=1e-6)
    assert two_proportion_p_value(50, 100, 30, 100) == pytest.approx(0.0038924, abs=1e-6)
    # Symmetric, and equal rates give p = 1.
    assert two_proportion_p_value(30, 100, 50, 100) == pytest.approx(0.0038924, abs=1e-6)
    assert two_proportion_p_value(10, 50, 20, 100) == pytest.approx(1.0)


def test_degenerate_inputs_are_none_not_errors() -> None:
    """Empty arms and all-or-nothing outcomes give None."""
    assert wilson_interval(0, 0) is None
    assert newcombe_interval(1, 0, 1, 10) is None
    assert two_proportion_p_value(0, 0, 1, 10) is None
    assert two_proportion_p_value(0, 10, 0, 10) is None
    assert two_proportion_p_value(10, 10, 10, 10) is None
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


def test_compare_lift_interval_and_verdict() -> None:
    """B 50/100 vs control A 30/100: +20 points, lift +66.7%, significant."""
    result = compare(Arm("B", 50, 100), Arm("A", 30, 100))
    assert result.difference == pytest.approx(0.2)
    assert result.lift == pytest.approx(2 / 3)
    assert result.p_value == pytest.approx(0.0038924, abs=1e-6)
    assert result.difference_interval is not None
    assert result.difference_interval[0] > 0
    assert result.enough_data
    assert result.significant
    assert result.verdict == "better than control"
    worse = compare(Arm("B", 30, 100), Arm("A", 50, 100))
    assert worse.verdict == "worse than control"
    flat = compare(Arm("B", 31, 100), Arm("A", 30, 100))
    assert flat.verdict == "no significant difference"


def test_not_enough_data_rule() -> None:
    """Below 30 trials per arm, or fewer than 5 expected successes per arm: no verdict."""
    assert not enough(Arm("B", 20, 29), Arm("A", 5, 29), 30)
    # 200 trials each but only 3 successes in total: expected successes 1.5 per arm.
    assert not enough(Arm("B", 3, 200), Arm("A", 0, 200), 30)
    assert enough(Arm("B", 6, 100), Arm("A", 4, 100), 30)
    small = compare(Arm("B", 9, 10), Arm("A", 1, 10))
    assert small.p_value is not None
    assert small.p_value < 0.05
    assert small.verdict == "not enough data yet"
    assert not small.significant


def test_lift_undefined_when_control_rate_is_zero() -> None:
    """A zero control rate has no relative lift, but still a difference."""
    result = compare(Arm("B", 5, 50), Arm("A", 0, 50))
    assert result.lift is None
    assert result.difference == pytest.approx(0.1)


def test_evaluate_picks_the_control() -> None:
    """'control' wins, else the first variant by name, else the one named."""
    arms = [Arm("b", 5, 50), Arm("control", 5, 50), Arm("a", 5, 50)]
    assert evaluate("x", "reply", arms).control == "control"
    assert evaluate("x", "reply", arms[:1] + arms[2:]).control == "a"
    assert evaluate("x", "reply", arms, control="b").control == "b"
    experiment = evaluate("x", "reply", arms)
    assert [c.variant for c in experiment.comparisons] == ["a", "b"]
    assert experiment.enough_data
    with pytest.raises(ValueError, match="not one of"):
        evaluate("x", "reply", arms, control="z")


def test_factorial_pools_arms_by_hook_and_cta() -> None:
    """Four labelled arms (and a duplicate cell) become a 2x2 grid."""
    arms = [
        Arm("a1", 10, 100, "on_a_job", "reply"),
        Arm("a2", 5, 50, "on_a_job", "reply"),
        Arm("b", 20, 100, "on_a_job", "book"),
        Arm("c", 30, 100, "sorry", "reply"),
        Arm("d", 40, 100, "sorry", "book"),
        Arm("unlabelled", 1, 10),
    ]
    grid = factorial(arms)
    assert sorted(grid) == ["on_a_job", "sorry"]
    cell = grid["on_a_job"]["reply"]
    assert (cell.successes, cell.trials) == (15, 150)
    assert grid["sorry"]["book"].rate == pytest.approx(0.4)
    relabelled = factorial(arms, {"unlabelled": ("sorry", "book")})
    assert relabelled["sorry"]["book"].trials == 110
