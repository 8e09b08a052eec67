"""Deterministic A/B assignment: the same caller always gets the same variant.

The experiment name and the caller's E.164 number are hashed (SHA-256) to a point in [0, 1),
which falls into one variant's share of the cumulative weights. No state is kept, so every
process and every restart agrees, and renaming the experiment reshuffles everybody.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Final

from asterisk_textback.templates.settings import VariantSettings

_SCALE: Final = float(1 << 64)


def bucket(experiment: str, subject: str) -> float:
    """A stable, uniformly spread point in [0, 1) for ``subject`` within ``experiment``."""
    # The NUL separator keeps ("ab", "c") and ("a", "bc") apart.
    digest = hashlib.sha256(f"{experiment}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def pick_index(experiment: str, subject: str, weights: Sequence[float]) -> int:
    """The index of the weight whose cumulative share contains ``subject``'s bucket."""
    if not weights:
        raise ValueError("no weights to choose from")
    if any(not w > 0 for w in weights):
        raise ValueError("weights must be positive")
    if len(weights) == 1:
        return 0
    cumulative = list(accumulate(weights))
    point = bucket(experiment, subject) * cumulative[-1]
    # min(): float rounding could otherwise put the point exactly on the total.
    return min(bisect_right(cumulative, point), len(weights) - 1)


def assign_variant(
    experiment: str, caller: str, variants: Sequence[VariantSettings]
) -> VariantSettings:
    """The variant ``caller`` (an E.164 number) gets in ``experiment``; always the same one."""
    return variants[pick_index(experiment, caller, [v.weight for v in variants])]
