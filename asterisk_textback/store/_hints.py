"""``INDEXED BY`` for SQLite: pin the index a KPI query reads (its planner guesses otherwise).

SQLAlchemy renders ``with_hint`` for some dialects, not SQLite. :func:`indexed_by` returns an
alias of a table that SQLite reads through the named index and any other database reads as
plain ``table AS alias``; select its columns from the alias (``alias.c.ended_at``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import Alias

__all__ = ["indexed_by"]


class _IndexedBy(Alias):
    """An alias carrying the index SQLite must use for it."""

    inherit_cache = True
    index: str


def indexed_by(table: Table, index: str) -> Alias:
    """``table AS <index>``, read through ``index`` on SQLite.

    The alias is named after the index, so statements pinning different indexes never share
    a compiled form in SQLAlchemy's cache.
    """
    alias = _IndexedBy._construct(table, name=index)
    alias.index = index
    return alias


@compiles(_IndexedBy, "sqlite")
def _sqlite(element: _IndexedBy, compiler: Any, **kw: Any) -> str:
    text: str = compiler.visit_alias(element, **kw)
    if kw.get("asfrom"):
        text += f" INDEXED BY {element.index}"
    return text
