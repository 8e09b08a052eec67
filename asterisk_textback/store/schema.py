"""Schema migrations run from code (no alembic.ini on disk) and the startup schema check.

A tenant's schema (``tenant=``): on PostgreSQL its own schema (``tenant_<id>``), created on
its first upgrade and migrated on a connection whose transaction searches that schema only
(``store.tenant_scope.scoped_engine``), so every table, index, trigger function and the
``alembic_version`` row land in it; its id columns then draw from the shared sequence
(``store.tenant_ids``). On SQLite its own file (``store.tenant_scope.tenant_url``). The
checks take an engine: give them the tenant's (scoped) one.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.errors import TextbackError
from asterisk_textback.store import tenant_ids
from asterisk_textback.store.engine import create_engine
from asterisk_textback.store.tenant_scope import scoped_engine, tenant_schema, tenant_url
from asterisk_textback.tenancy.ids import DEFAULT_TENANT, check_tenant_id

__all__ = [
    "DatabaseUnreadableError",
    "SchemaOutdatedError",
    "SchemaTooNewError",
    "alembic_config",
    "check_schema",
    "check_schema_readable",
    "current_revision",
    "downgrade",
    "head_revision",
    "stamp",
    "upgrade",
]

_MIGRATIONS = Path(__file__).resolve().with_name("migrations")


class SchemaOutdatedError(TextbackError):
    """The database schema is not the one this version of asterisk-textback needs."""

    def __init__(self, current: str | None, needed: str) -> None:
        self.current = current
        self.needed = needed
        shown = current if current is not None else "<none> (empty database)"
        super().__init__(
            f"database schema is at revision {shown}, this version needs {needed}: "
            "run `asterisk-textback db upgrade`"
        )


class SchemaTooNewError(TextbackError):
    """The database was migrated by a newer asterisk-textback than this one."""

    def __init__(self, current: str, needed: str) -> None:
        self.current = current
        self.needed = needed
        super().__init__(
            f"database schema is at revision {current}, which this version does not know "
            f"(it needs {needed}): the database was upgraded by a newer asterisk-textback; "
            "upgrade asterisk-textback"
        )


def alembic_config(url: str | None = None) -> Config:
    """An alembic Config pointing at the packaged migrations (and at ``url`` if given)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    if url is not None:
        # ConfigParser interpolation would choke on a "%" in a password.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The revision this version of the code needs."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("no migrations packaged")
    return head


async def _run(url: str, action: str, revision: str, tenant: str) -> None:
    if tenant != DEFAULT_TENANT:
        check_tenant_id(tenant)
    config = alembic_config()
    engine = create_engine(tenant_url(url, tenant))
    scoped = scoped_engine(engine, tenant)
    schema = tenant_schema(scoped)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)

    try:
        async with scoped.begin() as connection:
            if schema is not None:
                await tenant_ids.prepare(connection, schema)
            await connection.run_sync(run)
            if schema is not None:
                await tenant_ids.share_ids(connection, schema)
                await tenant_ids.pin_functions(connection, schema)
    finally:
        await engine.dispose()


async def upgrade(url: str, revision: str = "head", *, tenant: str = DEFAULT_TENANT) -> None:
    """Migrate ``tenant``'s schema in the database at ``url`` up to ``revision``
    (``asterisk-textback db upgrade``), creating its PostgreSQL schema or SQLite file."""
    await _run(url, "upgrade", revision, tenant)


async def downgrade(url: str, revision: str, *, tenant: str = DEFAULT_TENANT) -> None:
    """Migrate ``tenant``'s schema down to ``revision`` (``"base"`` empties it)."""
    await _run(url, "downgrade", revision, tenant)


async def stamp(url: str, revision: str, *, tenant: str = DEFAULT_TENANT) -> None:
    """Record ``revision`` as ``tenant``'s current one without running any migration."""
    await _run(url, "stamp", revision, tenant)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision recorded in the database, or None for an unmigrated one."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def check_schema(engine: AsyncEngine) -> None:
    """Raise :class:`SchemaOutdatedError` unless the database is at this version's head."""
    current = await current_revision(engine)
    needed = head_revision()
    if current == needed:
        return
    if current is not None and not _is_known(current):
        raise SchemaTooNewError(current, needed)
    raise SchemaOutdatedError(current, needed)


class DatabaseUnreadableError(TextbackError):
    """The database cannot be opened or read at all (missing directory, not a database,
    locked); ``reason`` is the driver's own words, without the SQL."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


async def check_schema_readable(engine: AsyncEngine) -> None:
    """:func:`check_schema`, with a database that cannot be read at all raised as
    :class:`DatabaseUnreadableError` (the schema errors stay as they are)."""
    try:
        await check_schema(engine)
    except (SQLAlchemyError, OSError) as exc:
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        raise DatabaseUnreadableError(str(orig)) from None


def _is_known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False
