"""A loaded tenant, and one whose file was refused.

A tenant is one business: its PBX links (or, on a shared PBX, its trunk contexts and DIDs),
hours, rules, templates, suppression, provider account, consent list, CRM hooks, dashboard
user and API token. The main ``textback.toml`` is the install (database, web listener,
cluster) and the defaults every tenant starts from; it is also the ``default`` tenant
unless ``tenants.main_business = false``. Each ``tenants.d/<id>.toml`` is one more tenant:
the main file's settings with the tenant file's on top.

Isolation is structural, not a filter every query must remember: on PostgreSQL each tenant
has its own schema (``tenant_<id>``; the default tenant keeps ``public``) and every
transaction of a tenant's sessions runs with ``SET LOCAL search_path`` to that schema only;
on SQLite each tenant has its own database file. A query that forgets its tenant cannot
exist, since a tenant's sessions cannot name another tenant's tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asterisk_textback.textback.loading import PreparedConfig

__all__ = ["RefusedTenant", "Tenant"]


@dataclass(frozen=True, slots=True)
class Tenant:
    """One business: its id, its prepared settings and the file they came from."""

    id: str
    loaded: PreparedConfig
    #: ``tenants.d/<id>.toml``; None for the main config's own business.
    path: Path | None

    @property
    def name(self) -> str:
        """The business's name as the console shows it."""
        return self.loaded.settings.tenant.name or self.id


@dataclass(frozen=True, slots=True)
class RefusedTenant:
    """A tenant file that did not load: kept out, the others run."""

    id: str
    path: Path
    #: One line naming the file, the key and the problem.
    reason: str
