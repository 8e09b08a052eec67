"""A tenant's view of the host's one PostgreSQL engine, its schema checked first."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.errors import StartupError
from asterisk_textback.store.schema import DatabaseUnreadableError, check_schema_readable
from asterisk_textback.store.tenant_scope import scoped_engine, tenant_schema

__all__ = ["tenant_engine"]


async def tenant_engine(engine: AsyncEngine, tenant: str) -> AsyncEngine:
    """``engine`` confined to ``tenant``'s schema, once that schema is known to be current.

    A schema never created or left behind raises the ConfigError naming the command to run
    (as a single-business start does); an unreadable database a StartupError.
    """
    scoped = scoped_engine(engine, tenant)
    try:
        await check_schema_readable(scoped)
    except DatabaseUnreadableError as exc:
        schema = tenant_schema(scoped) or "public"
        raise StartupError(
            f"tenant {tenant}: cannot read its schema {schema} ({exc.reason}); run "
            "`asterisk-textback db upgrade` with the main config"
        ) from None
    return scoped
