"""``asterisk-textback optout add|remove|list|import|export`` against the configured database.

The store is imported when the command runs, so ``--help`` does not load SQLAlchemy.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from asterisk_textback.cli.args import add_config
from asterisk_textback.cli.tenant_arg import add_tenant

if TYPE_CHECKING:
    from asterisk_textback.cli.args import Commands
    from asterisk_textback.textback.loading import PreparedConfig


def add_parser(commands: Commands) -> None:
    """Register ``optout`` and its five sub-commands."""
    parser = commands.add_parser("optout", help="the opt-out list (numbers never texted)")
    actions = parser.add_subparsers(dest="optout_command", required=True, help="what to do")
    for verb, text in (("add", "opt a number out"), ("remove", "lift a number's opt-out")):
        change = actions.add_parser(verb, help=text)
        add_config(change)
        add_tenant(change)
        change.add_argument("number", help="E.164, or national in business.default_region")
    listing = actions.add_parser("list", help="every opted-out number")
    add_config(listing)
    add_tenant(listing)
    imp = actions.add_parser(
        "import", help="opt out every number of a CSV (e164,opted_out_at,source)"
    )
    add_config(imp)
    add_tenant(imp)
    imp.add_argument("csv", type=Path, help="the CSV file to read")
    exp = actions.add_parser("export", help="write the opt-out list as CSV (stdout by default)")
    add_config(exp)
    add_tenant(exp)
    exp.add_argument("csv", type=Path, nargs="?", help="the CSV file to write (default: stdout)")
    for verb_parser in actions.choices.values():
        verb_parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen opt-out sub-command against the configured database."""
    import asyncio

    from asterisk_textback.cli.tenant_arg import load_for

    loaded = load_for(args)
    return asyncio.run(
        run_optout(
            loaded,
            args.optout_command,
            number=getattr(args, "number", None),
            path=getattr(args, "csv", None),
        )
    )


async def run_optout(
    loaded: PreparedConfig,
    action: str,
    *,
    number: str | None = None,
    path: Path | None = None,
    out: TextIO | None = None,
) -> int:
    """Run one opt-out sub-command; the process exit code."""
    import os
    import sys
    from datetime import UTC, datetime

    from asterisk_textback.app.service import database_url
    from asterisk_textback.inbound import optout_csv as optout_io
    from asterisk_textback.store.engine import create_engine, create_session_factory
    from asterisk_textback.store.schema import check_schema
    from asterisk_textback.store.uow import unit_of_work

    out = out or sys.stdout
    engine = create_engine(database_url(loaded, os.environ))
    region = loaded.settings.business.default_region
    now = datetime.now(UTC)
    try:
        await check_schema(engine)
        sessions = create_session_factory(engine)
        async with unit_of_work(sessions) as session:
            if action in ("add", "remove") and number is not None:
                change = optout_io.add if action == "add" else optout_io.remove
                try:
                    e164 = await change(session, number, region=region, now=now)
                except ValueError as exc:
                    print(f"asterisk-textback: error: {exc}", file=sys.stderr)
                    return 2
                verb = "opted out" if action == "add" else "may be texted again"
                out.write(f"{e164} {verb}\n")
            elif action == "list":
                for entry in await optout_io.list_opted_out(session):
                    when = entry.opted_out_at.isoformat() if entry.opted_out_at else "-"
                    out.write(f"{entry.e164}  {when}  {entry.source or '-'}\n")
            elif action == "export":
                if path is None:
                    await optout_io.export_csv(session, out)
                else:
                    with path.open("w", newline="", encoding="utf-8") as f:
                        n = await optout_io.export_csv(session, f)
                    out.write(f"{n} number(s) written to {path}\n")
            elif action == "import" and path is not None:
                with path.open(newline="", encoding="utf-8") as f:
                    report = await optout_io.import_csv(session, f, region=region, now=now)
                out.write(f"{report.added} opted out, {report.unchanged} already were\n")
                for line, reason in report.errors:
                    print(f"{path}:{line}: {reason}", file=sys.stderr)
                return 0 if report.ok else 1
    finally:
        await engine.dispose()
    return 0
