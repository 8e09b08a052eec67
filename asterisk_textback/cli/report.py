"""``asterisk-textback report``: KPIs for a period, from our database or the PBX's CDR/CEL.

The KPI, CDR and store modules are imported when the command runs, so ``--help`` does not
load SQLAlchemy.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from asterisk_textback.cli.args import add_config

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from asterisk_textback.cli.args import Commands


def add_parser(commands: Commands) -> None:
    """Register ``report`` and its arguments."""
    parser = commands.add_parser(
        "report",
        help="KPIs for a period (table, CSV or JSON), or answered/missed history from CDR/CEL",
    )
    # A CDR/CEL report reads the PBX's files, not our database: defaults will do.
    add_config(parser, required=lambda a: a.cdr is None and a.cel is None and a.cdr_db is None)
    parser.add_argument(
        "--period", default="30d", help="today, yesterday, 30d, 2026-11, 2026-11-27 or A..B"
    )
    parser.add_argument("--did", help="only calls to this DID")
    parser.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="output format (default table)",
    )
    parser.add_argument("--cdr", type=Path, help="Asterisk cdr_csv Master.csv instead of our DB")
    parser.add_argument(
        "--cdr-db", help="FreePBX asteriskcdrdb URL (read-only), e.g. mysql+pymysql://…"
    )
    parser.add_argument(
        "--cel", type=Path, help="Asterisk cel_custom Master.csv: decides the calls it has"
    )
    parser.add_argument(
        "--cel-columns",
        help="column order of the CEL CSV as in cel_custom.conf, e.g. eventtype,eventtime,… "
        "(default: Asterisk's sample mapping)",
    )
    parser.add_argument(
        "--no-cel", action="store_true", help="with --cdr-db: ignore its cel table, CDR only"
    )
    parser.add_argument(
        "--cdr-tz",
        help="time zone of CDR/CEL times (default: pbx.cdr_timezone; UTC when cdr.conf has "
        "usegmtime=yes, else the PBX's own zone)",
    )
    parser.set_defaults(run=run)


def _zone(name: str, key: str) -> ZoneInfo:
    from zoneinfo import ZoneInfo

    from asterisk_textback.errors import ConfigError

    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise ConfigError(f"{key}: {name!r} is not a known time zone (e.g. UTC)") from None


def run(args: argparse.Namespace) -> int:
    """Print the report; its exit code comes from :func:`run_report`."""
    import asyncio
    import os
    import sys
    from datetime import datetime

    from asterisk_textback.app.service import database_url
    from asterisk_textback.cdr.celcsv import CEL_CSV_COLUMNS, parse_columns
    from asterisk_textback.errors import ConfigError
    from asterisk_textback.kpi.periods import parse_period
    from asterisk_textback.kpi.report import ReportConfig, run_report, text_progress
    from asterisk_textback.textback.loading import load

    loaded = load(args.config)
    settings = loaded.settings
    zone = settings.business.zone
    if args.cdr_tz:
        cdr_zone = _zone(args.cdr_tz, "--cdr-tz")
    else:
        cdr_zone = _zone(settings.pbx.cdr_timezone, "pbx.cdr_timezone")
    use_db = args.cdr is None and args.cel is None and args.cdr_db is None
    try:
        columns = parse_columns(args.cel_columns) if args.cel_columns else CEL_CSV_COLUMNS
    except ValueError as exc:
        raise ConfigError(f"--cel-columns: {exc}") from None
    config = ReportConfig(
        database_url=database_url(loaded, os.environ) if use_db else None,
        kpi=settings.kpi,
        cdr_zone=cdr_zone,
        cel_table=None if args.no_cel else "cel",
        cel_columns=columns,
    )
    try:
        period = parse_period(args.period, datetime.now(zone), zone)
    except ValueError as exc:
        raise ConfigError(f"--period: {exc}") from None
    tty = sys.stderr.isatty()
    progress = text_progress(sys.stderr) if tty else None
    cel_progress = text_progress(sys.stderr, "reading CEL") if tty else None
    return asyncio.run(
        run_report(
            config,
            period,
            args.did,
            args.format,
            args.cdr,
            args.cdr_db,
            sys.stdout,
            progress,
            cel=args.cel,
            cel_progress=cel_progress,
        )
    )
