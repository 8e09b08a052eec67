"""KPI and report reads off the service's process: a small pool of worker processes.

A report over a long period builds and compiles hundreds of statements and folds thousands of
rows in Python. On the service's event loop that work would hold up ``/healthz``, webhooks and
the texts waiting to be sent; on a thread of the same process it still competes for the GIL
(measured: send p50 went from 80 ms to 10 s under back-to-back three-year reports). So each
report runs in a worker process (spawned at the first report, at the lowest CPU priority) with
its own event loop and engine, and the loop that serves requests only awaits the pickled
result. One process by default: on a two-core PBX a second would take the core texting needs.

A job is a module-level coroutine function ``fn(session, *args, **kwargs)`` (so it pickles by
name) whose arguments and result pickle. At most ``processes`` reports run at once; the rest
queue. A report that takes longer than ``timeout`` seconds is answered 503 (its process
finishes it in the background and is then free again).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Final, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.store.engine import create_engine, create_session_factory, pace_statements
from asterisk_textback.store.tenant_scope import SCHEMA_OPTION, tenant_schema
from asterisk_textback.store.uow import reading

__all__ = ["ReportBusy", "ReportTimeout", "ReportWorker"]

T = TypeVar("T")
Read = Callable[..., Awaitable[T]]

#: Report processes run at the lowest CPU priority: texting first, reports when idle.
_NICENESS: Final = 19


class ReportTimeout(Exception):
    """A report ran longer than the worker allows."""


class ReportBusy(Exception):
    """Too many reports are already running or waiting: try again later."""


def _lower_priority() -> None:
    with contextlib.suppress(OSError):
        os.nice(_NICENESS)
    # Linux's SCHED_IDLE weighs a fifth of nice 19: on a 2-core box a three-year report then
    # takes only what texting leaves over.
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


#: Once a report's statements have run this long in all (seconds), each one is followed by
#: as long a rest: a 30-day page never gets there, a three-year report soon does.
_REST_AFTER: Final = 0.05


async def _read(
    url: str, schema: str | None, fn: Read[T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    engine = create_engine(url)
    # A tenant's reports read its schema only, as its own sessions do (store.tenant_scope).
    scoped = engine if schema is None else engine.execution_options(**{SCHEMA_OPTION: schema})
    if engine.dialect.name == "postgresql":
        pace_statements(engine, rest_after=_REST_AFTER)
    try:
        async with reading(create_session_factory(scoped)) as session:
            return await fn(session, *args, **kwargs)
    finally:
        await engine.dispose()


def _job(
    url: str, schema: str | None, fn: Read[T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    """Run in a worker process: one report on a fresh loop and engine."""
    return asyncio.run(_read(url, schema, fn, args, kwargs))


class ReportWorker:
    """Runs read-only coroutines ``fn(session, ...)`` in a pool of worker processes."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        processes: int = 1,
        timeout: float = 120.0,
        max_pending: int = 12,
    ) -> None:
        """A stopped worker for the database at ``url`` (``start`` it inside a running app).

        ``schema``: a tenant's PostgreSQL schema, the only one its reports may read.
        """
        self._url = url
        self._schema = schema
        self._processes = processes
        self._timeout = timeout
        self._max_pending = max_pending
        self._pending = 0
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    def for_sessions(cls, sessions: async_sessionmaker[AsyncSession]) -> ReportWorker:
        """A worker on the same database (and tenant schema) as ``sessions``' engine."""
        bind = sessions.kw["bind"]
        return cls(bind.url.render_as_string(hide_password=False), schema=tenant_schema(bind))

    def start(self) -> None:
        """Create the pool; its processes start with the first reports (none if none is asked)."""
        if self._pool is None:
            # spawn: a fork would copy this process's threads' locks and the running loop.
            self._pool = ProcessPoolExecutor(
                self._processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_lower_priority,
            )

    async def stop(self) -> None:
        """Drop queued reports and wait for the processes to exit (after a running report)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def run(self, fn: Read[T], *args: Any, **kwargs: Any) -> T:
        """``fn(session, *args, **kwargs)`` in a worker process; ReportTimeout when too slow."""
        if self._pool is None:
            raise RuntimeError("the report worker is not running")
        # Counted and checked with no await in between: a burst of reloads cannot queue
        # minutes of work (each waiting job would also hold its request open).
        if self._pending >= self._max_pending:
            raise ReportBusy(f"{self._pending} reports are already running or waiting")
        self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(
                self._pool, _job, self._url, self._schema, fn, args, kwargs
            )
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            raise ReportTimeout(f"the report took longer than {self._timeout:g} s") from None
        finally:
            self._pending -= 1
