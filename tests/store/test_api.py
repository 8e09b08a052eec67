"""The public surface of ``asterisk_textback.store``: each module's ``__all__``.

The package ``__init__`` re-exports nothing (importing ``store`` must not load SQLAlchemy),
so the surface is checked where it is defined: sorted, resolvable, documented.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

import asterisk_textback.store as store

#: ``models.__all__`` is grouped by table, not sorted; the lead sorts it after the merge.
_UNSORTED = frozenset({"models"})


def _public_modules() -> list[ModuleType]:
    names = [m.name for m in pkgutil.iter_modules(store.__path__) if not m.name.startswith("_")]
    modules = [importlib.import_module(f"{store.__name__}.{name}") for name in names]
    return [module for module in modules if hasattr(module, "__all__")]


def test_the_surface_is_not_empty() -> None:
    modules = {m.__name__.rsplit(".", 1)[1] for m in _public_modules()}
    assert {"outbox", "models", "calls", "results", "schema", "engine"} <= modules


@pytest.mark.parametrize("module", _public_modules(), ids=lambda m: m.__name__)
def test_all_is_sorted_and_complete(module: ModuleType) -> None:
    names: list[str] = module.__all__
    if module.__name__.rsplit(".", 1)[1] not in _UNSORTED:
        assert names == sorted(names, key=lambda name: (not name.isupper(), name))
    for name in names:
        assert getattr(module, name).__doc__, f"{module.__name__}.{name} has no docstring"
