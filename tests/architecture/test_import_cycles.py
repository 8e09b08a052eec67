"""No import cycles in the package, counting ``if TYPE_CHECKING:`` imports.

A type-only cycle still ties two modules into one unit (neither can be read, moved or
tested alone) and tends to become a real one; imports inside functions are the lazy ones
and are left out. The graph is read with ``ast`` (see ``importgraph.py``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.architecture.importgraph import cycles, import_graph, module_files


def test_the_package_has_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "asterisk_textback.calls.tracker" in graph
    assert "asterisk_textback.calls.model" in graph["asterisk_textback.calls.tracker"]
    assert "asterisk_textback.calls.settings" in graph["asterisk_textback.config"]


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_a_type_checking_cycle_is_found_and_a_lazy_import_is_not(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    _write(root, "__init__.py", '"""Doc."""\n')
    _write(root, "a.py", "from pkg.b import B\n")
    _write(
        root,
        "b.py",
        """
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from pkg import a

        def later() -> None:
            from pkg.c import C
        """,
    )
    _write(root, "c.py", "from . import b\n")
    assert set(module_files(root)) == {"pkg", "pkg.a", "pkg.b", "pkg.c"}
    graph = import_graph(root)
    assert graph["pkg.b"] == {"pkg.a"}
    assert graph["pkg.c"] == {"pkg.b"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]
