"""The house: a top level of three modules, one folder per stage, small modules.

A loose module at the top level is a stage without a home; a package without a one-line
docstring does not say what it is for; a module of 400 lines or more cannot be read in one
sitting (STYLE.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.architecture.importgraph import ROOT

MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_the_top_level_holds_only_config_errors_and_main() -> None:
    top = {path.name for path in ROOT.glob("*.py")}
    assert top == {"__init__.py", "__main__.py", "config.py", "errors.py"}


def test_every_package_folder_has_an_init_with_a_one_line_docstring() -> None:
    folders = {path.parent for path in _modules()}
    problems = []
    for folder in sorted(folders):
        init = folder / "__init__.py"
        name = folder.relative_to(ROOT.parent)
        if not init.exists():
            problems.append(f"{name}: no __init__.py")
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        if not doc or "\n" in doc.strip():
            problems.append(f"{name}/__init__.py: docstring {doc!r} is not one line")
    assert not problems, "\n".join(problems)


def test_no_module_reaches_400_lines() -> None:
    lengths = {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in _modules()
    }
    too_long = {name: n for name, n in lengths.items() if n >= MAX_LINES}
    assert too_long == {}
