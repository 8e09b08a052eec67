"""``--tenant ID``: run a command on one tenant of the install (``tenants.d/ID.toml``).

The tenant's settings are the main config's with its file on top; its ``database.url``
names its own storage (its PostgreSQL schema or SQLite file: ``store.tenant_scope``), so
the command reads and writes that tenant's rows only.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asterisk_textback.tenancy.model import Tenant
    from asterisk_textback.textback.loading import PreparedConfig

__all__ = ["add_tenant", "find_tenant", "load_for"]


def add_tenant(parser: argparse.ArgumentParser) -> None:
    """Add ``--tenant ID`` to a command that takes ``-c``."""
    parser.add_argument(
        "--tenant",
        metavar="ID",
        help="one tenant of the install (tenants.d/ID.toml beside the config; 'default' is "
        "the main config's own business)",
    )


def find_tenant(main_path: Path, tenant_id: str, *, carrier_rules: bool = True) -> Tenant:
    """Tenant ``tenant_id`` of the install at ``main_path``; ConfigError naming those there are."""
    from asterisk_textback.errors import ConfigError
    from asterisk_textback.tenancy.files import load_tenants

    found = load_tenants(main_path, carrier_rules=carrier_rules)
    tenant = found.find(tenant_id)
    if tenant is not None:
        return tenant
    for refusal in found.refused:
        if refusal.id == tenant_id:
            raise ConfigError(f"--tenant {tenant_id}: this tenant does not load: {refusal.reason}")
    known = ", ".join(t.id for t in found.tenants) or "none"
    raise ConfigError(f"--tenant: no tenant {tenant_id!r}; the tenants are: {known}")


def load_for(args: argparse.Namespace, *, carrier_rules: bool = True) -> PreparedConfig:
    """The config a command runs with: ``--tenant``'s when given, else the main file's."""
    tenant_id = getattr(args, "tenant", None)
    if tenant_id is None:
        from asterisk_textback.textback.loading import load

        return load(args.config, carrier_rules=carrier_rules)
    return find_tenant(args.config, tenant_id, carrier_rules=carrier_rules).loaded
