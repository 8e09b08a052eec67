"""``asterisk-textback db upgrade``: create or migrate the database schema."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from asterisk_textback.cli.args import add_config

if TYPE_CHECKING:
    from asterisk_textback.cli.args import Commands


def add_parser(commands: Commands) -> None:
    """Register ``db`` and its one sub-command."""
    parser = commands.add_parser("db", help="database schema")
    actions = parser.add_subparsers(dest="db_command", required=True, help="what to do")
    upgrade = actions.add_parser("upgrade", help="create or migrate the schema to this version")
    add_config(upgrade)
    upgrade.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Bring the configured database to this version's schema."""
    import asyncio
    import os

    from asterisk_textback.app.service import database_url
    from asterisk_textback.store.schema import upgrade
    from asterisk_textback.textback.loading import load

    loaded = load(args.config)
    url = database_url(loaded, os.environ)
    asyncio.run(upgrade(url))
    print(f"database schema is up to date ({loaded.settings.database.url})")
    return 0
