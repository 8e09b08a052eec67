"""Tenant ids: the name in ``tenants.d/<id>.toml``, in URLs (``/t/<id>/``) and in schemas."""

from __future__ import annotations

import re

__all__ = ["DEFAULT_TENANT", "check_tenant_id", "schema_for"]

#: The tenant the main config describes (its rows stay where a single-business install
#: kept them: PostgreSQL's ``public`` schema, the configured SQLite file).
DEFAULT_TENANT = "default"

#: Lower-case letters, digits and inner hyphens, 1-32 characters: safe in a file name, a
#: URL path segment, a Prometheus label and (hyphens made underscores) a schema name.
_TENANT_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")


def check_tenant_id(value: str) -> str:
    """``value`` if it is a well-formed tenant id; ValueError naming the rule otherwise."""
    if not _TENANT_ID.fullmatch(value):
        raise ValueError(
            f"tenant id {value!r} is not allowed: use 1-32 lower-case letters, digits and "
            "inner hyphens (e.g. acme-dental)"
        )
    if value == DEFAULT_TENANT:
        raise ValueError(
            f"tenant id {value!r} is reserved for the main config's own business; pick another"
        )
    return value


def schema_for(tenant: str) -> str:
    """The PostgreSQL schema holding ``tenant``'s tables (``public`` for the default)."""
    if tenant == DEFAULT_TENANT:
        return "public"
    return "tenant_" + check_tenant_id(tenant).replace("-", "_")
