"""The unit of work: where a transaction begins and whether it commits, said at the call site.

Store functions never commit: they run inside a transaction the caller opened with one of
these two, so reading the caller tells what is written together::

    async with unit_of_work(sessions) as session:   # commit on normal exit, else roll back
        await outbox.enqueue(session, ...)
        await contacts.opt_out(session, ...)

    async with reading(sessions) as session:        # never commits, never takes the write lock
        rows = await call_pages.list_calls(session, ...)

On SQLite a write transaction begins ``IMMEDIATE`` and queues on the factory's in-process
lock (``_dialect.write_lock``) before its first statement; a read begins ``DEFERRED``, so a
page or a report never blocks the dispatcher. On PostgreSQL both are plain transactions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.store._dialect import write_lock

__all__ = ["begin_reading", "reading", "unit_of_work"]

#: The engine option (``store.engine``) that picks SQLite's BEGIN mode for a connection.
_SQLITE_BEGIN = "sqlite_begin"


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One write transaction on a new session: commits if the block ends normally.

    Any exception (a refused state change, a cancelled task) rolls everything back, so no
    half-written group lingers in the session.
    """
    async with sessions() as session, write_lock(session):
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


@asynccontextmanager
async def reading(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A read-only transaction on a new session: never commits, never takes the write lock."""
    async with sessions() as session:
        await begin_reading(session)
        yield session


async def begin_reading(session: AsyncSession) -> None:
    """Begin ``session``'s transaction as a reader (DEFERRED on SQLite), before any statement."""
    await session.connection(execution_options={_SQLITE_BEGIN: "DEFERRED"})
