"""Helpers shared by the repositories: backend differences and the commit-or-roll-back rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.store.models import Base


def dialect_of(session: AsyncSession) -> str:
    """``"sqlite"`` or ``"postgresql"`` for the engine behind ``session``."""
    return session.get_bind().dialect.name


def insert(session: AsyncSession, model: type[Base]) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that supports ``ON CONFLICT`` (both backends spell it the same way)."""
    if dialect_of(session) == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


@asynccontextmanager
async def committing(session: AsyncSession) -> AsyncIterator[None]:
    """Commit when the block succeeds; roll back on any error, so no half-write lingers.

    Inside :func:`one_transaction` it does neither: the outer block commits everything once.
    """
    if session.info.get(_BATCH):
        yield
        return
    async with write_lock(session):
        try:
            yield
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


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
