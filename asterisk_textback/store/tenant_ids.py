"""A tenant's PostgreSQL schema: made before its migrations, shared ids and pinned triggers after.

Run inside the migrating transaction (``store.schema``), whose search path is the tenant's
schema alone:

- :func:`prepare`: one migration at a time per database (an advisory lock held until
  commit: two ``db upgrade`` runs would race on ``CREATE SCHEMA``/``CREATE SEQUENCE``), then
  the schema itself, so a failed first migration leaves no empty schema behind.
- :func:`share_ids`: every serial or identity column of the schema draws from one sequence,
  ``public.textback_tenant_ids`` (from 1,000,000,000,000; ids are ``bigint``), so an id of
  tenant B is never a row of tenant A: an id guessed or pasted across tenants finds nothing.
  The default tenant (``public``) keeps its own sequences (a single-business database is
  unchanged); they start at 1 and never reach the shared range in practice.
- :func:`pin_functions`: the trigger functions of migration 0007 name their tables
  unqualified; pinned to the schema's search path they write the schema's own ``calls`` and
  ``call_hours`` even when a statement names the table with its schema from another search
  path (an admin's SQL, a bulk load).

All three are idempotent and run after every upgrade, so the tables and functions of later
migrations are covered too.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "MIGRATION_LOCK",
    "SHARED_SEQUENCE",
    "SHARED_START",
    "pin_functions",
    "prepare",
    "share_ids",
]

#: The sequence every tenant schema's ids come from (qualified: a tenant's search path
#: does not include ``public``).
SHARED_SEQUENCE = "public.textback_tenant_ids"
#: Its first value: far above any id a single-business database will reach on its own.
SHARED_START = 1_000_000_000_000
#: Advisory lock key (``txbcmigr``) serializing migrations of one database.
MIGRATION_LOCK = 0x74786263_6D696772

_SEQUENCE_NAME = "textback_tenant_ids'"
_INTEGERS = ("smallint", "integer", "bigint")

#: Serial (``nextval`` default) and identity columns of one schema's tables.
_ID_COLUMNS = text(
    "SELECT c.table_name, c.column_name, c.data_type, c.is_identity, c.column_default "
    "FROM information_schema.columns c "
    "JOIN information_schema.tables t "
    "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
    "WHERE c.table_schema = :schema AND t.table_type = 'BASE TABLE' "
    "AND (c.is_identity = 'YES' OR c.column_default LIKE 'nextval(%') "
    "ORDER BY c.table_name, c.column_name"
)

#: The schema's PL/pgSQL functions that do not pin their search path yet.
_UNPINNED = text(
    "SELECT p.proname, pg_get_function_identity_arguments(p.oid) "
    "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "JOIN pg_language l ON l.oid = p.prolang "
    "WHERE n.nspname = :schema AND l.lanname = 'plpgsql' "
    "AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c(setting) "
    "WHERE c.setting LIKE 'search_path=%') "
    "ORDER BY p.proname"
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def prepare(connection: AsyncConnection, schema: str) -> None:
    """Take the migration lock and create ``schema`` if it is missing."""
    await connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
    await connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}"))


async def share_ids(connection: AsyncConnection, schema: str) -> list[str]:
    """Point every id column of ``schema`` at :data:`SHARED_SEQUENCE`; the columns changed
    (``table.column``). Raises RuntimeError for an id column too narrow for the shared range."""
    await connection.execute(
        text(f"CREATE SEQUENCE IF NOT EXISTS {SHARED_SEQUENCE} START {SHARED_START}")
    )
    shared = f"nextval('{SHARED_SEQUENCE}'::regclass)"
    changed: list[str] = []
    rows = (await connection.execute(_ID_COLUMNS, {"schema": schema})).all()
    for table, column, data_type, identity, default in rows:
        if identity != "YES" and _SEQUENCE_NAME in (default or ""):
            continue  # shown qualified or not, depending on the search path
        if data_type != "bigint":
            what = f"{schema}.{table}.{column}"
            raise RuntimeError(
                f"{what} is {data_type}: the shared tenant ids need bigint"
                if data_type in _INTEGERS
                else f"{what} ({data_type}) is not an integer id"
            )
        target = f"{_quote(schema)}.{_quote(table)}"
        if identity == "YES":
            await connection.execute(
                text(f"ALTER TABLE {target} ALTER COLUMN {_quote(column)} DROP IDENTITY")
            )
        await connection.execute(
            text(f"ALTER TABLE {target} ALTER COLUMN {_quote(column)} SET DEFAULT {shared}")
        )
        changed.append(f"{table}.{column}")
    return changed


async def pin_functions(connection: AsyncConnection, schema: str) -> list[str]:
    """Pin every PL/pgSQL function of ``schema`` to search ``schema`` alone; the ones pinned."""
    rows = (await connection.execute(_UNPINNED, {"schema": schema})).all()
    for name, arguments in rows:
        await connection.execute(
            text(
                f"ALTER FUNCTION {_quote(schema)}.{_quote(name)}({arguments}) "
                f"SET search_path TO {_quote(schema)}"
            )
        )
    return [name for name, _ in rows]
