"""Where a tenant's rows live: its own PostgreSQL schema, or its own SQLite file.

PostgreSQL: every tenant shares the one engine (and its connection pool); a tenant's
engine is an option view of it whose every transaction begins with ``SET LOCAL
search_path`` to the tenant's schema alone (:func:`scoped_engine`). ORM statements, Core
statements, hand-written SQL and the triggers of migration 0007 all resolve their tables
through the search path, so none can reach another tenant's rows. The default tenant
keeps the server's search path (``public``): a single-business database is unchanged.

SQLite: each tenant has a file of its own beside the main one (:func:`tenant_url`).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.errors import ConfigError, TextbackError
from asterisk_textback.tenancy.ids import DEFAULT_TENANT, schema_for

__all__ = [
    "SCHEMA_OPTION",
    "SCHEMA_QUERY",
    "STORAGE_ERRORS",
    "backend_of",
    "database_file",
    "schema_in_url",
    "scope_by_schema",
    "scoped_engine",
    "tenant_schema",
    "tenant_url",
]

#: The execution option naming the schema a connection's transactions search.
SCHEMA_OPTION = "textback_schema"
#: The query parameter of a PostgreSQL URL naming a tenant's schema (:func:`tenant_url`).
SCHEMA_QUERY = "textback_schema"
_SCHEMA_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def schema_in_url(url: URL) -> tuple[URL, str | None]:
    """``url`` without its :data:`SCHEMA_QUERY`, and the schema it named (None: none)."""
    value = url.query.get(SCHEMA_QUERY)
    if value is None:
        return url, None
    if not isinstance(value, str) or not _SCHEMA_NAME.fullmatch(value):
        raise ConfigError(
            f"database.url: {SCHEMA_QUERY}={value!r} is not a schema name (lower-case letters, "
            "digits and _)"
        )
    return url.difference_update_query([SCHEMA_QUERY]), value


def tenant_url(url: str, tenant: str) -> str:
    """The database URL holding ``tenant``'s rows.

    PostgreSQL: the same database with ``?textback_schema=tenant_<id>``, which
    :func:`~asterisk_textback.store.engine.create_engine` turns into a scoped engine, so
    whatever opens the tenant's ``database.url`` (a command, the report worker) reads its
    schema only. SQLite: ``<folder>/tenants/<id>.db`` beside the main file. The default
    tenant keeps ``url``.
    """
    if tenant == DEFAULT_TENANT:
        return url
    parsed = _parsed(url)
    if parsed.get_backend_name() != "sqlite":
        scoped = parsed.update_query_dict({SCHEMA_QUERY: schema_for(tenant)})
        return scoped.render_as_string(hide_password=False)
    database = parsed.database
    if not database or database == ":memory:":
        raise ConfigError(
            "database.url: tenants need a database file (or PostgreSQL), not an in-memory one"
        )
    folder, _, _ = database.rpartition("/")
    path = f"{folder}/tenants/{tenant}.db" if folder else f"tenants/{tenant}.db"
    return parsed.set(database=path).render_as_string(hide_password=False)


#: What reading a tenant's storage can raise: the driver's errors, the OS's and our own (a
#: SQLite file that cannot be opened, a schema never migrated).
STORAGE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, OSError, TextbackError)


def _parsed(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        raise ConfigError(f"database.url: {url!r} is not a database URL") from None


def backend_of(url: str) -> str:
    """``postgresql`` or ``sqlite`` (ConfigError for something that is no database URL)."""
    return _parsed(url).get_backend_name()


def database_file(url: str) -> str | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    parsed = _parsed(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def tenant_schema(engine: AsyncEngine) -> str | None:
    """The schema ``engine``'s transactions are confined to (None: the server's default)."""
    value = engine.get_execution_options().get(SCHEMA_OPTION)
    return value if isinstance(value, str) else None


def scoped_engine(engine: AsyncEngine, tenant: str) -> AsyncEngine:
    """``engine`` seen as ``tenant``: PostgreSQL transactions confined to its schema.

    The result shares ``engine``'s pool. SQLite engines are returned as they are (each
    tenant has its own file, hence its own engine: :func:`tenant_url`).
    """
    if tenant == DEFAULT_TENANT or engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(**{SCHEMA_OPTION: schema_for(tenant)})


def scope_by_schema(engine: AsyncEngine) -> None:
    """Make ``engine`` honour :data:`SCHEMA_OPTION` (``store.engine`` does for PostgreSQL)."""

    @event.listens_for(engine.sync_engine, "begin")
    def _confine(connection: Any) -> None:
        schema = connection.get_execution_options().get(SCHEMA_OPTION)
        if schema is not None:
            # Quoted identifier: ids are checked (schema_for) and hold no quote anyway.
            connection.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
