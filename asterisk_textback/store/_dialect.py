"""Helpers shared by the repositories: backend differences and the commit-or-roll-back rule."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TypeVar, cast

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from asterisk_textback.store.models import Base


def dialect_of(session: AsyncSession) -> str:
    """``"sqlite"`` or ``"postgresql"`` for the engine behind ``session``."""
    return session.get_bind().dialect.name


def insert(session: AsyncSession, model: type[Base]) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that supports ``ON CONFLICT`` (both backends spell it the same way)."""
    if dialect_of(session) == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


_Row = TypeVar("_Row", bound=Base)


def insert_returning(
    dialect: str, model: type[_Row], columns: tuple[str, ...], conflict: tuple[str, ...]
) -> ReturningInsert[_Row]:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING RETURNING model``, built once per dialect.

    Each column takes the bind parameter ``p_<column>`` (see :func:`bind`). Rows are written
    on hot paths (a call, its text): building and cache-keying an ORM INSERT of twenty values
    per row cost more CPU than the database's own work; a statement built once is compiled
    once.
    """
    return cast("ReturningInsert[_Row]", _insert_returning(dialect, model, columns, conflict))


@functools.cache
def _insert_returning(
    dialect: str, model: type[Base], columns: tuple[str, ...], conflict: tuple[str, ...]
) -> object:
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        make(model)
        .values({name: bindparam(f"p_{name}") for name in columns})
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(model)
    )


def bind(values: Mapping[str, object]) -> dict[str, object]:
    """Parameters for a statement of :func:`insert_returning`."""
    return {f"p_{name}": value for name, value in values.items()}


@asynccontextmanager
async def committing(session: AsyncSession) -> AsyncIterator[None]:
    """Commit when the block succeeds; roll back on any error, so no half-write lingers.

    Inside :func:`one_transaction` it does neither: the outer block commits everything once.
    """
    if session.info.get(_BATCH):
        yield
        return
    async with one_transaction(session):
        yield


_BATCH = "textback_one_transaction"


@asynccontextmanager
async def one_transaction(session: AsyncSession) -> AsyncIterator[None]:
    """Run several committing store functions as one transaction (a group commit)."""
    async with write_lock(session):
        session.info[_BATCH] = True
        try:
            yield
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            session.info.pop(_BATCH, None)


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
