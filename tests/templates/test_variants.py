"""Deterministic, weight-following A/B assignment."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from asterisk_textback.templates import (
    TemplatesSettings,
    VariantSettings,
    assign_variant,
    bucket,
    pick_index,
    sample_context,
)
from asterisk_textback.templates.render import Renderer

NUMBERS = [f"+1202555{n:04d}" if n < 10_000 else f"+4420795{n:05d}" for n in range(20_000)]


def _variants(*weights: float) -> list[VariantSettings]:
    return [VariantSettings(name=f"v{i}", weight=w, body="x") for i, w in enumerate(weights)]


def test_same_caller_always_gets_the_same_variant() -> None:
    variants = _variants(1, 1, 1, 1)
    first = [assign_variant("exp", n, variants).name for n in NUMBERS[:500]]
    again = [assign_variant("exp", n, variants).name for n in NUMBERS[:500]]
    assert first == again


def test_assignment_is_a_pure_function_of_experiment_and_number() -> None:
    # Pinned: sha256("missed_no_voicemail\0+12025550143")[:8] = e6ef1c024a1c25af. A change of
    # hash or mapping would silently reshuffle every running experiment.
    assert bucket("missed_no_voicemail", "+12025550143") == 0xE6EF1C024A1C25AF / 2**64
    assert pick_index("missed_no_voicemail", "+12025550143", [1, 1, 1, 1]) == 3
    assert 0 <= bucket("a", "b") < 1
    assert bucket("ab", "c") != bucket("a", "bc")


def test_renaming_the_experiment_reshuffles() -> None:
    variants = _variants(1, 1)
    a = [assign_variant("one", n, variants).name for n in NUMBERS[:1000]]
    b = [assign_variant("two", n, variants).name for n in NUMBERS[:1000]]
    assert 350 < sum(x != y for x, y in zip(a, b, strict=True)) < 650


@pytest.mark.parametrize(
    "weights", [(1.0, 1.0), (70.0, 20.0, 10.0), (1.0, 1.0, 1.0, 1.0), (0.25, 0.75)]
)
def test_distribution_follows_weights_within_two_percent(weights: tuple[float, ...]) -> None:
    variants = _variants(*weights)
    counts = Counter(assign_variant("hook_x_cta", n, variants).name for n in NUMBERS)
    total = sum(weights)
    for i, weight in enumerate(weights):
        share = counts[f"v{i}"] / len(NUMBERS)
        assert abs(share - weight / total) < 0.02, (i, share)


def test_single_variant_needs_no_hash() -> None:
    assert pick_index("exp", "+12025550143", [3.0]) == 0


@pytest.mark.parametrize("weights", [[], [1.0, 0.0], [1.0, -1.0]])
def test_pick_index_refuses_bad_weights(weights: list[float]) -> None:
    with pytest.raises(ValueError, match="weights"):
        pick_index("exp", "+1", weights)


def test_renderer_uses_the_experiment_name() -> None:
    table = {
        "variants": [
            {"name": "a", "body": "A", "hook": "on_a_job", "cta": "reply"},
            {"name": "b", "body": "B", "hook": "on_a_job", "cta": "book"},
            {"name": "c", "body": "C", "hook": "sorry", "cta": "reply"},
            {"name": "d", "body": "D", "hook": "sorry", "cta": "book"},
        ],
        "experiment": "hook-x-cta-2024",
    }
    settings = TemplatesSettings.model_validate({"include_defaults": False, "t": table})
    renderer = Renderer(settings)
    for number in NUMBERS[:200]:
        expected = assign_variant("hook-x-cta-2024", number, settings.template("t").variants)
        ctx = replace(sample_context(), caller_number=number)
        text = renderer.render("t", ctx, first_contact=False)
        assert text.variant == expected.name == renderer.variant_for("t", number).name
        assert text.body == expected.body
        assert (text.hook, text.cta) == (expected.hook, expected.cta)
