"""Settings sit below what they configure: a ``settings.py`` is pydantic and value types.

Each package's ``settings.py`` may import the standard library, pydantic, ``errors`` and
its own package's modules, nothing else; ``config.py`` only combines them. Checked twice:
statically (what the module names) and in a fresh interpreter (what actually gets loaded,
own-package modules included), so a heavy import hidden one module down is caught too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.architecture.importgraph import PACKAGE, ROOT, _eager_statements
from tests.architecture.test_light_imports import _chain, _probe

SETTINGS = sorted(ROOT.rglob("settings.py"))
ALWAYS_ALLOWED = ("pydantic", "pydantic_core", f"{PACKAGE}.errors")
#: Value types a section legitimately needs from another stage or library.
EXTRA_ALLOWED: dict[str, tuple[str, ...]] = {
    # Regions are validated against libphonenumber; rules match the tracker's call reasons.
    f"{PACKAGE}.policy.settings": (
        "phonenumbers",
        f"{PACKAGE}.calls.model",
        f"{PACKAGE}.calls.utc",
    ),
    # The package's public API (its __init__) includes the message context built from a call.
    f"{PACKAGE}.templates.settings": (f"{PACKAGE}.calls.model", f"{PACKAGE}.calls.utc"),
}
HEAVY = ("aiohttp", "sqlalchemy", "panoramisk", "jinja2")


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in _eager_statements(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _under(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def test_every_stage_with_settings_is_seen() -> None:
    stages = {_module_name(p).rsplit(".", 2)[-2] for p in SETTINGS}
    assert {"ami", "calls", "crm", "inbound", "bookings", "web", "kpi", "agi"} <= stages


@pytest.mark.parametrize("path", SETTINGS, ids=_module_name)
def test_settings_name_only_pydantic_and_their_own_package(path: Path) -> None:
    module = _module_name(path)
    own = module.rsplit(".", 1)[0]
    allowed = (*ALWAYS_ALLOWED, own, *EXTRA_ALLOWED.get(module, ()))
    foreign = {
        name
        for name in _imported(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and name != "__future__"
        and not _under(name, allowed)
    }
    assert not foreign, f"{module} imports {sorted(foreign)}"


def _loaded_params() -> list[str]:
    return [_module_name(p) for p in SETTINGS] + [f"{PACKAGE}.config"]


@pytest.mark.parametrize("module", _loaded_params())
def test_settings_and_config_load_nothing_heavy(module: str) -> None:
    report = _probe(module)
    loaded = report["loaded"]
    loaded_by = report["loaded_by"]
    assert isinstance(loaded, list)
    assert isinstance(loaded_by, dict)
    heavy = [m for m in HEAVY if m in loaded]
    assert not heavy, f"import {module} loaded:\n" + "\n".join(_chain(m, loaded_by) for m in heavy)
    if module == f"{PACKAGE}.config":
        return
    own = module.rsplit(".", 1)[0]
    allowed = (*ALWAYS_ALLOWED, own, *EXTRA_ALLOWED.get(module, ()))
    # Packages above an allowed module are loaded by Python on the way (their __init__s).
    parents = {m.rsplit(".", n)[0] for m in (own, *allowed) for n in range(m.count(".") + 1)}
    foreign = [
        m
        for m in loaded
        if m.startswith(PACKAGE + ".") and m not in parents and not _under(m, allowed)
    ]
    assert not foreign, f"import {module} loaded:\n" + "\n".join(
        _chain(m, loaded_by) for m in foreign
    )
