"""``asterisk-textback consent export``: the consent evidence of a number, or of all of them.

The store and the export are imported when the command runs, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from asterisk_textback.cli.args import add_config
from asterisk_textback.cli.tenant_arg import add_tenant

if TYPE_CHECKING:
    from asterisk_textback.cli.args import Commands
    from asterisk_textback.textback.loading import PreparedConfig


def add_parser(commands: Commands) -> None:
    """Register ``consent`` and its ``export`` sub-command."""
    parser = commands.add_parser(
        "consent", help="consent evidence: each number's calls, texts and opt-outs"
    )
    actions = parser.add_subparsers(dest="consent_command", required=True, help="what to do")
    export = actions.add_parser(
        "export",
        help="every call (decision, disclosure, caller ID verification), text (body, delivery) "
        "and opt-out/opt-in (source, wording) of a number, in time order",
    )
    add_config(export)
    add_tenant(export)
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("number", nargs="?", help="E.164, or national in business.default_region")
    which.add_argument("--all", action="store_true", help="every number, one after the other")
    export.add_argument(
        "--format", choices=("csv", "json"), default="csv", help="CSV (default) or JSON"
    )
    export.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the export to stdout; exit 1 for a number the database does not know."""
    import asyncio
    import sys

    from asterisk_textback.cli.tenant_arg import load_for

    loaded = load_for(args)
    number = None if args.all else args.number
    return asyncio.run(run_export(loaded, number, args.format, sys.stdout, sys.stderr))


async def run_export(
    loaded: PreparedConfig, number: str | None, fmt: str, out: TextIO, err: TextIO
) -> int:
    """Export ``number`` (None: every number); the process exit code."""
    import os

    from asterisk_textback.app.service import database_url
    from asterisk_textback.compliance.evidence_export import (
        export_all,
        export_number,
        number_records,
    )
    from asterisk_textback.inbound.optout_csv import normalise_number
    from asterisk_textback.store.engine import (
        create_engine,
        create_session_factory,
        without_password,
    )
    from asterisk_textback.store.schema import DatabaseUnreadableError, check_schema_readable
    from asterisk_textback.store.sqlite_file import missing_sqlite_file
    from asterisk_textback.store.uow import reading

    settings = loaded.settings
    e164 = None
    if number is not None:
        try:
            e164 = normalise_number(number, settings.business.default_region)
        except ValueError as exc:
            print(f"asterisk-textback: error: {exc}", file=err)
            return 2
    zone = settings.business.zone
    url = database_url(loaded, os.environ)
    missing = missing_sqlite_file(url)
    if missing is not None:
        print(
            f"asterisk-textback: error: database.url: {missing} does not exist "
            "(nothing recorded yet, or the wrong config file)",
            file=err,
        )
        return 2
    engine = create_engine(url)
    try:
        try:
            await check_schema_readable(engine)
        except DatabaseUnreadableError as exc:
            where = without_password(url)
            print(f"asterisk-textback: error: database {where} cannot be read: {exc}", file=err)
            return 2
        sessions = create_session_factory(engine)
        if e164 is None:
            await export_all(sessions, fmt, out, zone)
            return 0
        async with reading(sessions) as session:
            records = await number_records(session, e164)
        if records.empty:
            print(f"asterisk-textback: no calls, texts or opt-outs of {e164}", file=err)
            return 1
        export_number(records, fmt, out, zone)
        return 0
    finally:
        await engine.dispose()
