"""Helpers shared by the repositories: backend differences and the commit-or-roll-back rule."""

from __future__ import annotations

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
    """Commit when the block succeeds; roll back on any error, so no half-write lingers."""
    try:
        yield
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
