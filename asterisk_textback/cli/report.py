"""``asterisk-textback report``: KPIs for a period, from our database or the PBX's CDR/CEL.

The KPI, CDR and store modules are imported when the command runs, so ``--help`` does not
load SQLAlchemy.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from asterisk_textback.cli.args import add_config
from asterisk_textback.cli.tenant_arg import add_tenant

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
    add_config(
        parser,
        required=lambda a: (
            a.tenant is not None or (a.cdr is None and a.cel is None and a.cdr_db is None)
        ),
    )
    add_tenant(parser)
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
        "--aov",
        type=order_value,
        metavar="AMOUNT",
        help="average order value for the revenue calculator, e.g. 250 (overrides "
        "kpi.average_order_value)",
    )
    parser.add_argument(
        "--close-rate",
        type=close_rates,
        metavar="LOW-HIGH",
        help="close rate range in percent, e.g. 20-40 (expected: the middle) or one value, "
        "e.g. 25 (overrides kpi.close_rate and kpi.close_rate_band)",
    )
    parser.add_argument(
        "--cdr-tz",
        help="time zone of CDR/CEL times (default: pbx.cdr_timezone; UTC when cdr.conf has "
        "usegmtime=yes, else the PBX's own zone)",
    )
    parser.set_defaults(run=run)


def order_value(text: str) -> float:
    """``--aov``: an amount of money, 0 or more (argparse turns the error into usage + 2)."""
    try:
        value = float(text.replace(",", "").lstrip("$"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an amount; give the average order value as a number, e.g. 250"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the average order value must be 0 or more")
    return value


def close_rates(text: str) -> tuple[float, float]:
    """``--close-rate 20-40`` (percent) as ``(0.2, 0.4)``; ``25`` alone as ``(0.25, 0.25)``."""
    low_text, dash, high_text = text.strip().rstrip("%").partition("-")
    example = "give LOW-HIGH in percent, e.g. 20-40 (or one value, e.g. 25)"
    try:
        low = float(low_text.rstrip("% "))
        high = float(high_text.rstrip("% ")) if dash else low
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a range: {example}") from None
    if not (0 <= low <= 100 and 0 <= high <= 100):
        raise argparse.ArgumentTypeError(
            f"{text!r}: close rates are percentages from 0 to 100; {example}"
        )
    if low > high:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the low end is above the high end; write it as {high:g}-{low:g}"
        )
    return low / 100, high / 100


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
    from asterisk_textback.cli.tenant_arg import find_tenant
    from asterisk_textback.errors import ConfigError
    from asterisk_textback.kpi.periods import parse_period
    from asterisk_textback.kpi.report import ReportConfig, run_report, text_progress
    from asterisk_textback.kpi.report_words import Inputs
    from asterisk_textback.textback.loading import load

    tenant = None if args.tenant is None else find_tenant(args.config, args.tenant)
    loaded = load(args.config) if tenant is None else tenant.loaded
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
    kpi, inputs = settings.kpi, Inputs()
    if args.aov is not None:
        kpi = kpi.model_copy(update={"average_order_value": args.aov})
        inputs = Inputs(aov="--aov", close_rate=inputs.close_rate)
    if args.close_rate is not None:
        low, high = args.close_rate
        update = {"close_rate": (low + high) / 2, "close_rate_band": (low, high)}
        kpi = kpi.model_copy(update=update)
        inputs = Inputs(aov=inputs.aov, close_rate="--close-rate")
    config = ReportConfig(
        database_url=database_url(loaded, os.environ) if use_db else None,
        kpi=kpi,
        cdr_zone=cdr_zone,
        cel_table=None if args.no_cel else "cel",
        cel_columns=columns,
        zone=zone,
        inputs=inputs,
        tenant=None if tenant is None else tenant.id,
        tenant_name="" if tenant is None else tenant.name,
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
