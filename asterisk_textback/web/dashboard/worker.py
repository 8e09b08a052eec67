"""KPI and report reads off the event loop: a thread with its own loop, engine and connections.

A report over a long period builds and compiles hundreds of statements and folds thousands of
rows in Python. On the service's event loop that work would hold up ``/healthz``, webhooks
and the texts waiting to be sent; here it runs on a thread of its own, with its own engine
(an asyncpg connection belongs to the loop that opened it), and the loop that serves
requests only awaits the result. At most ``concurrency`` reports run at once (memory stays
bounded when someone reloads the Overview a hundred times) and each is cut off after
``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from asterisk_textback.store.engine import create_engine, create_session_factory

__all__ = ["ReportTimeout", "ReportWorker"]

T = TypeVar("T")
Read = Callable[[AsyncSession], Awaitable[T]]


class ReportTimeout(Exception):
    """A report ran longer than the worker allows."""


class ReportWorker:
    """Runs read-only coroutines ``fn(session)`` on a private thread and event loop."""

    def __init__(self, url: str, *, concurrency: int = 3, timeout: float = 120.0) -> None:
        """A stopped worker for the database at ``url`` (``start`` it inside a running app)."""
        self._url = url
        self._concurrency = concurrency
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._gate: asyncio.Semaphore | None = None

    @classmethod
    def for_sessions(cls, sessions: async_sessionmaker[AsyncSession]) -> ReportWorker:
        """A worker on the same database as ``sessions`` (which must be bound to an engine)."""
        bind = sessions.kw["bind"]
        return cls(bind.url.render_as_string(hide_password=False))

    @property
    def thread(self) -> threading.Thread | None:
        """The worker's thread while it runs."""
        return self._thread

    def start(self) -> None:
        """Start the thread and its loop (idempotent)."""
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            self._engine = create_engine(self._url)
            self._sessions = create_session_factory(self._engine)
            self._gate = asyncio.Semaphore(self._concurrency)
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._engine.dispose())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="textback-reports", daemon=True)
        self._thread.start()
        ready.wait()

    async def stop(self) -> None:
        """Stop the loop after the reports in hand, dispose of the engine, join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join)

    async def _call(self, fn: Read[T]) -> T:
        assert self._sessions is not None
        assert self._gate is not None
        async with self._gate:
            try:
                async with asyncio.timeout(self._timeout), self._sessions() as session:
                    await session.connection(execution_options={"sqlite_begin": "DEFERRED"})
                    return await fn(session)
            except TimeoutError:
                raise ReportTimeout(f"the report took longer than {self._timeout:g} s") from None

    async def run(self, fn: Read[T]) -> T:
        """``fn(session)`` on the worker (a DEFERRED read transaction on SQLite)."""
        if self._loop is None:
            raise RuntimeError("the report worker is not running")
        future: Future[T] = asyncio.run_coroutine_threadsafe(self._call(fn), self._loop)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()  # the browser went away: stop the work too
            raise
