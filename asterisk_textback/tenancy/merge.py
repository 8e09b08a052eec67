"""A tenant file on top of the main config: the merge, and the keys only the install sets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MAIN_ONLY", "api_token_env", "deep_merge", "main_only_key", "tenant_data"]

#: Keys a tenant file may not set, with why: they describe the install, not a business.
MAIN_ONLY: tuple[tuple[tuple[str, ...], str], ...] = (
    (("database",), "one database serves every tenant"),
    (("tenants",), "the main config says where the tenant files are"),
    (("cluster",), "the instances of an install share every tenant's PBX links"),
    (("dispatch",), "one dispatcher sends every tenant's texts"),
    (("web", "host"), "one web listener serves every tenant"),
    (("web", "port"), "one web listener serves every tenant"),
    (("web", "enabled"), "one web listener serves every tenant"),
    (("web", "trusted_proxies"), "the proxies in front of the listener are the install's"),
    (("web", "console"), "the integrator console is the install's, not a tenant's"),
)


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``top`` over it: tables merged key by key, arrays and scalars replaced.

    An empty table in ``top`` (``senders = {}``) replaces the inherited one: it is the only
    way a tenant file can drop a table of the main config (its DID senders, say).
    """
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and value and isinstance(below, Mapping):
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = value
    return merged


def api_token_env(tenant_id: str) -> str:
    """The API token's variable of a tenant file that names none: ``TEXTBACK_API_TOKEN_ACME``."""
    return "TEXTBACK_API_TOKEN_" + tenant_id.upper().replace("-", "_")


def tenant_data(base: Mapping[str, Any], top: Mapping[str, Any], tenant_id: str) -> dict[str, Any]:
    """The TOML data of tenant ``tenant_id``: ``top`` over ``base``, its own credentials.

    The dashboard's password hash and API token are never inherited: the main config's
    user and token must not open a tenant's dashboard. Unset in the tenant file, nobody
    logs in (``web passwd`` makes a hash) and the token is ``$TEXTBACK_API_TOKEN_<ID>``.
    """
    merged = deep_merge(base, top)
    web, dashboard = _table(merged, "web"), _table(_table(merged, "web"), "dashboard")
    if web is None or dashboard is None:
        return merged  # not tables: validation names the key
    own = _table(_table(top, "web"), "dashboard") or {}
    kept = {k: v for k, v in dashboard.items() if k not in ("password_hash", "api_token_env")}
    if "password_hash" in own:
        kept["password_hash"] = own["password_hash"]
    kept["api_token_env"] = own.get("api_token_env", api_token_env(tenant_id))
    merged["web"] = {**web, "dashboard": kept}
    return merged


def _table(data: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    """``data[key]`` when it is a table; ``{}`` when absent; None when it is something else."""
    if data is None:
        return None
    value = data.get(key, {})
    return value if isinstance(value, Mapping) else None


def main_only_key(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(dotted key, why)`` of the first main-config-only key a tenant file sets, if any."""
    for path, why in MAIN_ONLY:
        table: Any = data
        for part in path:
            if not isinstance(table, Mapping) or part not in table:
                break
            table = table[part]
        else:
            return ".".join(path), why
    return None
