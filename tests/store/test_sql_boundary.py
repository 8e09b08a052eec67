"""SQL lives in ``store/`` (and ``cdr/``, which reads the PBX's own CDR database).

Everything else may hold a session or an engine - typed ``AsyncSession``,
``async_sessionmaker``, ``AsyncEngine`` - and call store functions, but builds no statement,
registers no engine event and reaches into no private store helper.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import asterisk_textback

PACKAGE = Path(asterisk_textback.__file__).parent
SQL_HOMES = ("store", "cdr")
#: What a module outside the SQL homes may import from SQLAlchemy: the handles, not the SQL.
HANDLES = {"sqlalchemy.ext.asyncio": {"AsyncSession", "async_sessionmaker", "AsyncEngine"}}


def _outside_modules() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] not in SQL_HOMES:
            yield path


def offences(source: str) -> list[str]:
    """Each SQLAlchemy import beyond the handles, and each private store import."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            module = node.module
            if module.split(".")[0] == "sqlalchemy":
                allowed = HANDLES.get(module, set())
                found += [f"{module}.{a.name}" for a in node.names if a.name not in allowed]
            elif module.startswith("asterisk_textback.store._") or (
                module == "asterisk_textback.store" and any(a.name[0] == "_" for a in node.names)
            ):
                found.append(module)
    return found


def test_no_sql_outside_store_and_cdr() -> None:
    bad = {
        str(path.relative_to(PACKAGE)): found
        for path in _outside_modules()
        if (found := offences(path.read_text(encoding="utf-8")))
    }
    assert bad == {}


def test_the_walk_sees_the_whole_package() -> None:
    walked = {path.relative_to(PACKAGE).parts[0] for path in _outside_modules()}
    assert {"kpi", "web", "textback", "outbox", "inbound", "crm", "app", "agi"} <= walked


def test_offences_catch_statements_and_private_helpers() -> None:
    assert offences("from sqlalchemy import select") == ["sqlalchemy.select"]
    assert offences("import sqlalchemy.orm") == ["sqlalchemy.orm"]
    assert offences("from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine") == [
        "sqlalchemy.ext.asyncio.create_async_engine"
    ]
    assert offences("from asterisk_textback.store._dialect import insert") == [
        "asterisk_textback.store._dialect"
    ]
    assert offences("from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker") == []
    assert offences("from asterisk_textback.store import outbox") == []
