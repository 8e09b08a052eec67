"""The pure stages import nothing heavy: checked in a fresh interpreter, importer named.

``config.py`` used to import runtime modules, so importing the tracker ("no I/O") loaded
aiohttp, SQLAlchemy and every SMS vendor. A fresh ``python`` records which module first
imported each loaded module, so a failure names the chain that dragged the heavy one in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

#: Records ``module -> the module whose import statement loaded it`` while importing targets.
_PROBE = textwrap.dedent(
    """
    import builtins, json, sys

    targets = sys.argv[1:]
    before = set(sys.modules)
    loaded_by = {}
    real_import = builtins.__import__

    def traced(name, globals=None, locals=None, fromlist=(), level=0):
        known = set(sys.modules)
        try:
            return real_import(name, globals, locals, fromlist, level)
        finally:
            importer = (globals or {}).get("__name__", "?")
            for module in set(sys.modules) - known:
                loaded_by.setdefault(module, importer)

    builtins.__import__ = traced
    for target in targets:
        __import__(target)
    builtins.__import__ = real_import
    new = sorted(set(sys.modules) - before)
    stdlib = sorted(sys.stdlib_module_names)
    print(json.dumps({"loaded": new, "loaded_by": loaded_by, "stdlib": stdlib}))
    """
)

PURE = (
    "asterisk_textback.calls.tracker",
    "asterisk_textback.policy",
    "asterisk_textback.policy.decide",
    "asterisk_textback.templates",
    "asterisk_textback.templates.render",
)
HEAVY_THIRD_PARTY = ("aiohttp", "sqlalchemy")
HEAVY_STAGES = ("asterisk_textback.web", "asterisk_textback.store", "asterisk_textback.sms")


def _probe(*targets: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *targets],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _chain(module: str, loaded_by: dict[str, str]) -> str:
    """``target -> ... -> module``: who imported whom until ``module`` was loaded."""
    chain = [module]
    while chain[-1] in loaded_by and len(chain) < 50:
        importer = loaded_by[chain[-1]]
        if importer in chain or importer in ("?", "__main__"):
            break
        chain.append(importer)
    return " -> ".join(reversed(chain))


def _is_under(module: str, roots: tuple[str, ...]) -> bool:
    return any(module == root or module.startswith(root + ".") for root in roots)


def _third_party(loaded: list[str], stdlib: set[str]) -> set[str]:
    tops = {name.split(".")[0] for name in loaded}
    return {
        top
        for top in tops
        if top not in stdlib and top != "asterisk_textback" and not top.startswith("_sysconfig")
    }


@pytest.mark.parametrize("target", PURE)
def test_pure_stages_load_no_web_store_sms_aiohttp_or_sqlalchemy(target: str) -> None:
    report = _probe(target)
    loaded = report["loaded"]
    loaded_by = report["loaded_by"]
    assert isinstance(loaded, list)
    assert isinstance(loaded_by, dict)
    heavy = [m for m in loaded if _is_under(m, HEAVY_THIRD_PARTY + HEAVY_STAGES)]
    # Only the first module of each heavy package: its chain says who dragged it in.
    roots = [m for m in heavy if loaded_by.get(m, "?") not in heavy]
    assert not roots, f"import {target} loaded:\n" + "\n".join(_chain(m, loaded_by) for m in roots)


def test_the_tracker_loads_no_third_party_package() -> None:
    report = _probe("asterisk_textback.calls.tracker")
    loaded = report["loaded"]
    loaded_by = report["loaded_by"]
    stdlib = report["stdlib"]
    assert isinstance(loaded, list)
    assert isinstance(loaded_by, dict)
    assert isinstance(stdlib, list)
    assert "asterisk_textback.calls.tracker" in loaded  # the probe really imported it
    found = _third_party(loaded, set(stdlib))
    assert not found, "import asterisk_textback.calls.tracker loaded:\n" + "\n".join(
        _chain(m, loaded_by) for m in sorted(found)
    )


def test_the_probe_sees_a_heavy_import() -> None:
    """The check can fail: the web package's webhooks module does load aiohttp."""
    report = _probe("asterisk_textback.web.webhooks")
    loaded = report["loaded"]
    loaded_by = report["loaded_by"]
    assert isinstance(loaded, list)
    assert isinstance(loaded_by, dict)
    assert "aiohttp" in loaded
    assert _chain("aiohttp", loaded_by).startswith("asterisk_textback.web.webhooks")
