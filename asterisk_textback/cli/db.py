"""``asterisk-textback db upgrade``: create or migrate the database schema of every tenant.

The main config's own business (unless ``tenants.main_business = false``) and every tenant
file in ``tenants.d/``: on PostgreSQL one schema each in the one database, on SQLite one
file each. A tenant file that does not load is named with its reason and the command ends
with status 1, after the others are migrated.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from asterisk_textback.cli.args import add_config

if TYPE_CHECKING:
    from asterisk_textback.cli.args import Commands
    from asterisk_textback.tenancy.model import Tenant


def add_parser(commands: Commands) -> None:
    """Register ``db`` and its one sub-command."""
    parser = commands.add_parser("db", help="database schema")
    actions = parser.add_subparsers(dest="db_command", required=True, help="what to do")
    upgrade = actions.add_parser(
        "upgrade", help="create or migrate the schema of every tenant to this version"
    )
    add_config(upgrade)
    upgrade.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Bring the schema of the main business and of every tenant file to this version."""
    import asyncio
    import os

    from asterisk_textback.app.service import database_url
    from asterisk_textback.tenancy.files import load_tenants

    tenants = load_tenants(args.config)
    url = database_url(tenants.main, os.environ)
    failed = asyncio.run(_upgrade_all(url, tenants.tenants))
    for refused in tenants.refused:
        print(f"tenant {refused.id}: not upgraded: {refused.reason}", file=sys.stderr)
    return 1 if failed or tenants.refused else 0


async def _upgrade_all(url: str, tenants: tuple[Tenant, ...]) -> bool:
    """Upgrade each tenant in turn (the default one as before); whether any failed."""
    from asterisk_textback.store.schema import upgrade
    from asterisk_textback.store.tenant_scope import STORAGE_ERRORS
    from asterisk_textback.tenancy.ids import DEFAULT_TENANT

    failed = False
    for tenant in tenants:
        if tenant.id == DEFAULT_TENANT:
            await upgrade(url)  # its errors stop the command, as without tenants
            print(f"database schema is up to date ({tenant.loaded.settings.database.url})")
            continue
        try:
            await upgrade(url, tenant=tenant.id)
        except STORAGE_ERRORS as exc:
            failed = True
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            print(f"tenant {tenant.id}: not upgraded: {reason}", file=sys.stderr)
            continue
        print(f"tenant {tenant.id}: schema is up to date ({_where(tenant)})")
    return failed


def _where(tenant: Tenant) -> str:
    """The tenant's PostgreSQL schema, or its SQLite file's URL."""
    from asterisk_textback.store.tenant_scope import backend_of
    from asterisk_textback.tenancy.ids import schema_for

    url = tenant.loaded.settings.database.url
    return schema_for(tenant.id) if backend_of(url) == "postgresql" else url
