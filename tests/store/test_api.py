"""The public surface of ``asterisk_textback.store``."""

from __future__ import annotations

import asterisk_textback.store as store


def test_all_is_sorted_and_complete() -> None:
    assert store.__all__ == sorted(store.__all__, key=lambda name: (not name.isupper(), name))
    for name in store.__all__:
        assert getattr(store, name).__doc__, f"{name} has no docstring"
