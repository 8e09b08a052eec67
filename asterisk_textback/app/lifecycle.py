"""The service's long-lived parts as async context managers, for one ``AsyncExitStack``.

``async with`` starts a part and leaving the block stops it (draining as its ``stop`` says).
:func:`~asterisk_textback.app.service.serve` enters them on one stack in start order, so
they stop in the reverse order, also when a later part fails to start: nothing is left
running, listening or connected. A part that cannot start raises
:class:`~asterisk_textback.errors.StartupError` naming the problem and its fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import replace
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.types import ConnectionState
from asterisk_textback.app.parts import RunningService
from asterisk_textback.calls.listener import CallListener
from asterisk_textback.errors import AmiError, AmiLoginError, StartupError
from asterisk_textback.store.engine import create_engine
from asterisk_textback.store.schema import DatabaseUnreadableError, check_schema_readable
from asterisk_textback.store.settings import DatabaseSettings
from asterisk_textback.tenancy.ids import DEFAULT_TENANT
from asterisk_textback.tenancy.leases import LeaseKeeper, LinkGate, link_key, unless_stopped

__all__ = [
    "EVICT_EVERY_SECONDS",
    "Runnable",
    "ami_failure",
    "background",
    "database",
    "evicting",
    "fastagi",
    "follow_link",
    "pbx_links",
    "running",
]

EVICT_EVERY_SECONDS = 60.0
#: How often a link this instance does not hold is checked for a connection a reload opened.
_NOT_HELD_CHECK_SECONDS = 1.0


class Runnable(Protocol):
    """A part that works in :meth:`run` until :meth:`stop` asks it to finish."""

    async def run(self) -> None:
        """Work until stopped; return once what was in hand is done."""

    def stop(self) -> None:
        """Ask :meth:`run` to finish and return."""


@contextlib.asynccontextmanager
async def background(
    name: str, run: Callable[[], Coroutine[Any, Any, None]], stop: Callable[[], object]
) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``run()`` in a task while inside; on leaving, ``stop()`` and wait for it to end.

    Waiting (not cancelling) is what lets a part drain: its ``stop`` says what it finishes.
    """
    task = asyncio.create_task(run(), name=name)
    try:
        yield task
    finally:
        stop()
        await task


def running(part: Runnable) -> contextlib.AbstractAsyncContextManager[asyncio.Task[None]]:
    """:func:`background` for a part with ``run()`` and ``stop()`` (dispatcher, CRM poster)."""
    return background(type(part).__name__, part.run, part.stop)


@contextlib.asynccontextmanager
async def database(
    url: str, shown_as: str, pool: DatabaseSettings | None = None
) -> AsyncIterator[AsyncEngine]:
    """An engine on a database whose schema is checked; disposed on leaving.

    ``pool``: the ``[database]`` section whose ``pool_size`` and ``max_overflow`` size a
    PostgreSQL pool (None: SQLAlchemy's defaults).

    An old or too new schema stays a :class:`ConfigError` (its message names the command to
    run); a database that cannot be read at all is a :class:`StartupError`.
    """
    engine = (
        create_engine(url)
        if pool is None
        else create_engine(url, pool_size=pool.pool_size, max_overflow=pool.max_overflow)
    )
    try:
        try:
            await check_schema_readable(engine)
        except DatabaseUnreadableError as exc:
            raise StartupError(
                f"cannot open the database {shown_as} ({exc.reason}); check [database] url: "
                "it must be a database this user can read and write, not held locked by another "
                "process"
            ) from None
        yield engine
    finally:
        await engine.dispose()


def ami_failure(exc: AmiError, key: str) -> StartupError:
    """A fatal AMI error (refused login, certificate) as the one line ``run`` ends with."""
    if isinstance(exc, AmiLoginError):
        fix = f"check {key}.username and the secret in {key}.secret_env against manager.conf"
    else:
        fix = f"check {key}.host, {key}.port and the TLS settings against the PBX"
    return StartupError(f"{exc}; {fix}")


async def follow_link(
    parts: RunningService,
    index: int,
    gate: LinkGate | None = None,
    key: str = "",
    stopping: asyncio.Event | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Consume PBX ``index``'s AMI events; after a reload swaps its connection, the new one's.

    With a ``gate`` (``[cluster]``), the link is connected only while this instance holds
    ``key``: once held, connect (a new connection whose first login resyncs: the outage
    catch-up reads from the CDR the calls that ended since this instance last watched, or
    since it took the link) and consume; once lost, close the connection (every event it
    delivered is consumed) and wait to hold it again. ``stopping`` set: stop and return.

    Returns when the link's connection is closed and not replaced (shutdown); raises the
    fatal error (e.g. a refused login) if it gave up.
    """
    if gate is None:
        await _consume(parts, index)
        return
    stop = stopping or asyncio.Event()
    closed_at: float | None = None
    while True:
        if not await _wait_held(parts, index, gate, key, stop):
            return
        # Blind since the last close here, or since now: the first login resyncs and the CDR
        # catch-up reads what ended before it was in (a second early: CDR times are whole).
        blind = time.time() - 1.0 if closed_at is None else closed_at
        link = parts.pbxes[index]
        fresh = _reopened(link.connection, blind, environ)
        await link.connection.close()  # never started, or closed when the link was lost
        link = replace(link, connection=fresh)
        parts.pbxes[index] = link
        await link.connection.start()
        consumer = asyncio.create_task(_consume(parts, index), name=f"consume {key}")
        lost = asyncio.create_task(gate.wait_lost(key), name=f"lost {key}")
        try:
            await asyncio.wait({consumer, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lost
        if consumer.done():
            consumer.result()  # raises the fatal error, if that is why it ended
            return  # shut down
        closed_at = time.time()
        await parts.pbxes[index].connection.close()
        await consumer  # every event the connection delivered is consumed
        if stop.is_set():
            return


async def _wait_held(
    parts: RunningService, index: int, gate: LinkGate, key: str, stop: asyncio.Event
) -> bool:
    """Wait until ``key`` is held (False: stopping); meanwhile keep its connection closed.

    A reload that changed the PBX's settings starts a new connection even on an instance
    that does not hold the link: it is closed again within a second.
    """
    while True:
        try:
            async with asyncio.timeout(_NOT_HELD_CHECK_SECONDS):
                return await unless_stopped(gate.wait_owned(key), stop)
        except TimeoutError:
            connection = parts.pbxes[index].connection
            if connection.state is not ConnectionState.CLOSED:
                await connection.close()


def _reopened(old: AmiConnection, blind: float, environ: Mapping[str, str] | None) -> AmiConnection:
    """A new connection with ``old``'s settings; its first login resyncs since ``blind``."""
    return AmiConnection(
        old.settings,
        environ=environ,
        skip_events=old.skip_events,
        keep_variables=old.keep_variables,
        resync_from=blind,
    )


async def _consume(parts: RunningService, index: int) -> None:
    while True:
        link = parts.pbxes[index]
        await link.connection.run_consumer(link.listener.handle)
        # The reloader installs the replacement *before* closing the old connection.
        if parts.pbxes[index].connection is link.connection:
            return


@contextlib.asynccontextmanager
async def pbx_links(
    parts: RunningService,
    gate: LinkGate | None = None,
    *,
    tenant: str = DEFAULT_TENANT,
    environ: Mapping[str, str] | None = None,
) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Connect every PBX link and consume its events; yields the consumers (one per link).

    With a ``gate`` (``[cluster]``) a link is connected only while this instance holds its
    lease (key ``"<tenant>/<pbx name>"``, :func:`follow_link`); ``environ`` holds the AMI
    secrets of the connections it opens again.

    On leaving, each link's current connection (a reload may have replaced it) is closed
    and its consumer waited for, so every event it had delivered is handled; then a
    :class:`LeaseKeeper` gate lets go of the links (it may serve other tenants still). A
    consumer that ended with a fatal error keeps it (see :meth:`asyncio.Task.exception`).
    """
    consumers: list[asyncio.Task[None]] = []
    stopping = asyncio.Event()
    try:
        for index, link in enumerate(parts.pbxes):
            key = link_key(tenant, link.name)
            if gate is None:
                await link.connection.start()
            follow = follow_link(parts, index, gate, key, stopping, environ)
            consumers.append(asyncio.create_task(follow, name=key))
        yield consumers
    finally:
        stopping.set()
        for link in parts.pbxes:
            await link.connection.close()
        for consumer in consumers:
            with contextlib.suppress(Exception):
                await consumer  # a fatal AMI error was logged by the connection
        if isinstance(gate, LeaseKeeper):  # shared by other tenants: let go of ours
            gate.remove_links(link_key(tenant, link.name) for link in parts.pbxes)


@contextlib.asynccontextmanager
async def fastagi(parts: RunningService, *, enabled: bool) -> AsyncIterator[None]:
    """Listen for FastAGI when ``enabled``; on leaving, stop the listener in use then.

    A reload may have replaced (or, with ``agi.enabled`` changed, started) the listener.
    """
    async with contextlib.AsyncExitStack() as stack:
        if enabled:
            await stack.enter_async_context(parts.agi)
        try:
            yield
        finally:
            await parts.agi.stop()


@contextlib.asynccontextmanager
async def evicting(
    listeners: list[CallListener], clock: Callable[[], float]
) -> AsyncIterator[None]:
    """Every minute, let each listener forget calls it can no longer see end."""

    async def evict() -> None:
        while True:
            await asyncio.sleep(EVICT_EVERY_SECONDS)
            for listener in listeners:
                listener.evict(clock())

    task = asyncio.create_task(evict(), name="evict")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
