"""Async engines and session factories for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from asterisk_textback.errors import ConfigError
from asterisk_textback.logs import mask as logsafe
from asterisk_textback.store import sqlite_file
from asterisk_textback.store._dialect import WRITE_LOCK
from asterisk_textback.store.tenant_scope import SCHEMA_OPTION, schema_in_url, scope_by_schema

__all__ = [
    "DEFAULT_URL",
    "create_engine",
    "create_session_factory",
    "pace_statements",
    "with_password",
    "without_password",
]

#: The embedded default: one SQLite file in the working directory.
DEFAULT_URL = "sqlite+aiosqlite:///textback.db"

_SUPPORTED_DRIVERS = {"sqlite+aiosqlite", "postgresql+asyncpg"}


def create_engine(
    url: str = DEFAULT_URL,
    *,
    echo: bool = False,
    busy_timeout_ms: int = 5000,
    pool_pre_ping: bool = True,
    hide_parameters: bool | None = None,
    pool_size: int = 5,
    max_overflow: int = 10,
) -> AsyncEngine:
    """Create an async engine for a ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://`` URL.

    A SQLite file's folder is created (0700) when missing; ``DatabaseFileError`` (a
    ``ConfigError``) names it and the fix when it cannot be, and replaces the driver's own
    error when the file cannot be opened or has no tables yet.

    ``hide_parameters``: SQL parameters (callers' numbers, message bodies) are left out of
    logged statements and of error messages; by default unless ``run --log-pii`` was given.

    ``pool_size``, ``max_overflow``: PostgreSQL's connection pool (``[database]``; the
    defaults are SQLAlchemy's); SQLite keeps its own.
    """
    if hide_parameters is None:
        hide_parameters = not logsafe.showing_pii()
    parsed = make_url(url)
    if parsed.drivername not in _SUPPORTED_DRIVERS:
        raise ConfigError(
            f"database.url: driver {parsed.drivername!r} is not supported; "
            "use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db"
        )
    if parsed.drivername == "postgresql+asyncpg":
        parsed, schema = schema_in_url(parsed)  # a tenant's URL: its schema only
        # Pre-ping survives server restarts at the cost of one round trip per checkout.
        pg = _create_async_engine(
            parsed,
            echo=echo,
            pool_pre_ping=pool_pre_ping,
            hide_parameters=hide_parameters,
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        shown = parsed.render_as_string(hide_password=True)
        scope_by_schema(pg)  # a tenant's transactions search its schema only

        @event.listens_for(pg.sync_engine, "handle_error")
        def _explain(context: ExceptionContext) -> BaseException | None:
            error = context.original_exception
            return _missing_table(shown, getattr(error, "sqlstate", None), str(error))

        return pg if schema is None else pg.execution_options(**{SCHEMA_OPTION: schema})
    database = parsed.database
    private = None if not database or database == ":memory:" else Path(database)
    if private is not None:
        sqlite_file.prepare(private)  # or one line naming the folder or file and the fix
    engine = _create_async_engine(parsed, echo=echo, hide_parameters=hide_parameters)
    _configure_sqlite(engine, busy_timeout_ms, private)
    return engine


def _missing_table(shown: str, sqlstate: object, message: str) -> ConfigError | None:
    """A never-migrated PostgreSQL database (42P01, undefined table), said in one line."""
    found = re.search(r'relation "([^"]+)" does not exist', message)
    if found is None or sqlstate != "42P01":
        return None
    return ConfigError(
        f"database {shown} has no table {found[1]}: run `asterisk-textback db upgrade -c FILE` "
        "with this config first"
    )


def without_password(url: str) -> str:
    """``url`` as it may appear in a message: without its password."""
    return make_url(url).render_as_string(hide_password=True)


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` set (kept out of the config file: ``database.password_env``)."""
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def _make_private(path: Path) -> None:
    """Make the database file and its -wal/-shm readable by their owner only (0600)."""
    # SQLite creates -wal and -shm with the database file's mode, so doing this before the
    # journal_mode PRAGMA covers them too; the loop fixes ones left by an older version.
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if name.stat().st_mode & 0o077:
                name.chmod(0o600)
        except FileNotFoundError:
            continue
        except PermissionError:  # not ours (e.g. a shared read-only copy): leave it be
            continue


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int, private: Path | None) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if private is not None:
            _make_private(private)
        # Take transaction control away from the driver so that "begin" below is ours, and
        # so that the PRAGMAs run outside a transaction (foreign_keys is ignored inside one).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    if private is not None:

        @event.listens_for(sync_engine, "handle_error")
        def _explain(context: ExceptionContext) -> BaseException | None:
            # "unable to open database file", "no such table" on a never-migrated file:
            # one line naming the file and the fix instead of a SQLAlchemy traceback.
            return sqlite_file.explain(private, str(context.original_exception))

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        # writes fails with SQLITE_BUSY at once when another writer got in between (busy_timeout
        # does not help there); waiting for the lock at BEGIN makes writers simply queue.
        # Read-only work (reports, dashboard) begins DEFERRED through ``store.uow.reading``
        # so that it does not block writers.
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode not in ("IMMEDIATE", "DEFERRED"):
            raise ValueError(f"sqlite_begin must be IMMEDIATE or DEFERRED, not {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")


def pace_statements(engine: AsyncEngine, *, rest_after: float) -> None:
    """Past ``rest_after`` seconds of statement time, rest as long as each statement ran.

    For a report process on PostgreSQL: the report's work runs in the server's backend
    process, which the report process's priority does not reach; resting as long as each
    statement ran keeps a long report to about half a core, the rest left to texting.
    """
    sync = engine.sync_engine
    spent = [0.0]

    @event.listens_for(sync, "before_cursor_execute")
    def _started(conn: Any, *_: Any) -> None:
        conn.info["report_started"] = time.perf_counter()

    @event.listens_for(sync, "after_cursor_execute")
    def _rest(conn: Any, *_: Any) -> None:
        ran = time.perf_counter() - conn.info.pop("report_started", time.perf_counter())
        spent[0] += ran
        if spent[0] > rest_after:
            time.sleep(ran)  # the process runs one report at a time: nothing else waits


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory whose objects stay readable after commit (no lazy reloads in async).

    On SQLite its sessions share one in-process write lock (see ``_dialect.write_lock``).
    """
    info: dict[str, Any] = {}
    if engine.dialect.name == "sqlite":
        info[WRITE_LOCK] = asyncio.Lock()
    return async_sessionmaker(engine, expire_on_commit=False, info=info)
