"""Match dialplan context names against the configured trunk / internal globs."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable


class ContextMatcher:
    """Case-insensitive glob matching of context names, memoised (contexts repeat a lot)."""

    __slots__ = ("_cache", "_regex")

    def __init__(self, patterns: Iterable[str]) -> None:
        parts = [fnmatch.translate(p.strip().lower()) for p in patterns]
        self._regex = re.compile("|".join(f"(?:{p})" for p in parts))
        # Bounded in practice by the number of contexts in the dialplan; capped anyway.
        self._cache: dict[str, bool] = {}

    def __call__(self, context: str) -> bool:
        """True when ``context`` matches one of the globs."""
        hit = self._cache.get(context)
        if hit is None:
            hit = self._regex.match(context.lower()) is not None
            if len(self._cache) < 4096:
                self._cache[context] = hit
        return hit
