"""Helpers shared by the repositories: backend differences and SQLite's in-process write lock."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql.dml import ReturningInsert

from asterisk_textback.store.models import Base


def dialect_of(session: AsyncSession) -> str:
    """``"sqlite"`` or ``"postgresql"`` for the engine behind ``session``."""
    return session.get_bind().dialect.name


def insert(session: AsyncSession, model: type[Base]) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that supports ``ON CONFLICT`` (both backends spell it the same way)."""
    return insert_for(dialect_of(session), model)


def insert_for(dialect: str, into: type[Base] | Table) -> sqlite.Insert | postgresql.Insert:
    """:func:`insert` by dialect name, for statements built once per dialect."""
    return postgresql.insert(into) if dialect == "postgresql" else sqlite.insert(into)


_Row = TypeVar("_Row", bound=Base)


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class (for statements built once, without the ORM)."""
    return cast(Table, model.__table__)


async def insert_row(
    session: AsyncSession,
    model: type[_Row],
    values: Mapping[str, object],
    conflict: tuple[str, ...],
) -> _Row | None:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING RETURNING *``: the new row, or None.

    Rows are written on hot paths (a call, its text), where building, cache-keying and
    running an ORM bulk INSERT of twenty values cost more CPU than the database's own work.
    Here the Core statement is built once per dialect and column set, and the row comes
    back as a detached object of ``model`` holding the stored values (no session identity,
    so it is never flushed again).
    """
    stmt = _insert_returning(dialect_of(session), model, tuple(values), conflict)
    connection = await session.connection()
    result = await connection.execute(stmt, {f"p_{name}": v for name, v in values.items()})
    row = result.mappings().one_or_none()
    return None if row is None else detached(model, row)


def detached(model: type[_Row], row: Mapping[str, Any]) -> _Row:
    """A ``model`` object holding a row read with Core: detached, never flushed again."""
    instance = model(**row)
    make_transient_to_detached(instance)
    return instance


@functools.cache
def _insert_returning(
    dialect: str, model: type[Base], columns: tuple[str, ...], conflict: tuple[str, ...]
) -> ReturningInsert[Any]:
    table = table_of(model)
    return (
        insert_for(dialect, table)
        .values({name: bindparam(f"p_{name}") for name in columns})
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*table.c)
    )


WRITE_LOCK = "textback_write_lock"


@asynccontextmanager
async def write_lock(session: AsyncSession) -> AsyncIterator[None]:
    """On SQLite, one write transaction at a time within this process.

    SQLite serializes writers anyway, but a writer that finds the lock taken sleeps in
    growing steps (up to 100 ms) before trying again; queueing on an asyncio lock instead
    hands the database over the moment it is free. No-op elsewhere (PostgreSQL).
    """
    lock: asyncio.Lock | None = session.info.get(WRITE_LOCK)
    if lock is None:
        yield
        return
    async with lock:
        yield
