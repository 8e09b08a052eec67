"""The ``asterisk-textback`` command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from asterisk_textback import __version__
from asterisk_textback.ami.sim.builtin import builtin_traces
from asterisk_textback.app.service import database_url, install_signal_handlers, serve
from asterisk_textback.calls.model import CallEnded
from asterisk_textback.cdr import CEL_CSV_COLUMNS, parse_columns
from asterisk_textback.cli.check import DEFAULT_WATCH, format_results, run_checks, send_test
from asterisk_textback.cli.demo import run_demo
from asterisk_textback.cli.dryrun import dry_run
from asterisk_textback.cli.optout import run_optout
from asterisk_textback.cli.output import CallPrinter
from asterisk_textback.cli.replay import load_frames, replay
from asterisk_textback.errors import ConfigError, ProviderError, StartupError, TextbackError
from asterisk_textback.kpi.periods import parse_period
from asterisk_textback.kpi.report import ReportConfig, run_report, text_progress
from asterisk_textback.logs import mask as logsafe
from asterisk_textback.store.schema import upgrade
from asterisk_textback.templates import format_table, preview_rows, sample_context
from asterisk_textback.textback.loading import load
from asterisk_textback.web.dashboard import hash_password

log = logging.getLogger("asterisk_textback")

#: Files and directories the commands create are private to the user running them.
PRIVATE_UMASK = 0o077


def _pace(value: str) -> float:
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--pace: {value!r} is not a number") from None
    if speed <= 0:
        raise argparse.ArgumentTypeError("--pace: must be greater than 0")
    return speed


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="asterisk-textback",
        description="Text back the callers an Asterisk/FreePBX system did not answer.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more logging: -v each call's classification, -vv also SQL statements",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    rp = sub.add_parser(
        "replay",
        help="classify recorded AMI traces through the live listener path",
        description=(
            "Stream recorded AMI traces through a loopback AMI server into the same "
            "connection and call tracker the live service uses; print every finished call. "
            "Without TRACE files, replays the recordings shipped with the package."
        ),
    )
    rp.add_argument("traces", nargs="*", type=Path, metavar="TRACE.ami")
    rp.add_argument("--json", action="store_true", help="one JSON object per line per call")
    rp.add_argument("-c", "--config", type=Path, help="textback.toml (defaults otherwise)")
    rp.add_argument(
        "--dry-run",
        action="store_true",
        help="also run the policy on each call (empty history, now = the call's end)",
    )
    rp.add_argument(
        "--pace",
        nargs="?",
        const=1.0,
        type=_pace,
        default=None,
        metavar="SPEED",
        help="replay at the recorded pace (Timestamp headers), optionally SPEED times faster",
    )

    run = sub.add_parser("run", help="the service: listen to the PBX, text missed callers")
    run.add_argument("-c", "--config", type=Path, required=True, help="textback.toml")
    run.add_argument(
        "--log-pii",
        action="store_true",
        help="log callers' numbers in full and, with -vv, SQL parameters (masked otherwise)",
    )

    demo = sub.add_parser(
        "demo",
        help="the whole pipeline against a simulated PBX (SQLite, log provider)",
        description=(
            "A built-in AMI server plays real recorded Asterisk calls with fresh ids and "
            "numbers; prints each call and the text it would send as it happens."
        ),
    )
    demo.add_argument("--calls", type=int, default=12, help="how many calls (default 12)")
    demo.add_argument("--rate", type=_pace, default=1.0, help="calls per second (default 1)")
    demo.add_argument("--dir", type=Path, help="keep the SQLite database in this folder")

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="create or migrate the schema to this version")
    up.add_argument("-c", "--config", type=Path, help="textback.toml (defaults otherwise)")

    chk = sub.add_parser("check", help="verify config, database, AMI login and provider")
    chk.add_argument("-c", "--config", type=Path, required=True, help="textback.toml")
    chk.add_argument(
        "--watch",
        type=float,
        default=DEFAULT_WATCH,
        metavar="SECONDS",
        help="when the AMI user cannot read manager.conf, watch events this long for proof "
        f"of its read classes (default {DEFAULT_WATCH:g}; 60 with a test call to prove them all)",
    )

    st = sub.add_parser("send-test", help="send one real text through the configured provider")
    st.add_argument("-c", "--config", type=Path, required=True, help="textback.toml")
    st.add_argument("number", help="recipient (E.164, or national in business.default_region)")
    st.add_argument("text", nargs="?", default="Test from asterisk-textback.", help="the text")

    oo = sub.add_parser("optout", help="the opt-out list (numbers never texted)")
    oo_sub = oo.add_subparsers(dest="optout_command", required=True)
    for verb, text in (("add", "opt a number out"), ("remove", "lift a number's opt-out")):
        cmd = oo_sub.add_parser(verb, help=text)
        cmd.add_argument("-c", "--config", type=Path, help="textback.toml")
        cmd.add_argument("number")
    ls = oo_sub.add_parser("list", help="every opted-out number")
    ls.add_argument("-c", "--config", type=Path, help="textback.toml")
    imp = oo_sub.add_parser(
        "import", help="opt out every number of a CSV (e164,opted_out_at,source)"
    )
    imp.add_argument("-c", "--config", type=Path, help="textback.toml")
    imp.add_argument("csv", type=Path)
    exp = oo_sub.add_parser("export", help="write the opt-out list as CSV (stdout by default)")
    exp.add_argument("-c", "--config", type=Path, help="textback.toml")
    exp.add_argument("csv", type=Path, nargs="?")

    rep = sub.add_parser(
        "report",
        help="KPIs for a period (table, CSV or JSON), or answered/missed history from CDR/CEL",
    )
    rep.add_argument("-c", "--config", type=Path, help="textback.toml (defaults otherwise)")
    rep.add_argument(
        "--period", default="30d", help="today, yesterday, 30d, 2026-11, 2026-11-27 or A..B"
    )
    rep.add_argument("--did", help="only calls to this DID")
    rep.add_argument("--format", choices=("table", "csv", "json"), default="table")
    rep.add_argument("--cdr", type=Path, help="Asterisk cdr_csv Master.csv instead of our DB")
    rep.add_argument(
        "--cdr-db", help="FreePBX asteriskcdrdb URL (read-only), e.g. mysql+pymysql://…"
    )
    rep.add_argument(
        "--cel", type=Path, help="Asterisk cel_custom Master.csv: decides the calls it has"
    )
    rep.add_argument(
        "--cel-columns",
        help="column order of the CEL CSV as in cel_custom.conf, e.g. eventtype,eventtime,… "
        "(default: Asterisk's sample mapping)",
    )
    rep.add_argument(
        "--no-cel", action="store_true", help="with --cdr-db: ignore its cel table, CDR only"
    )
    rep.add_argument(
        "--cdr-tz",
        help="time zone of CDR/CEL times (default: pbx.cdr_timezone; UTC when cdr.conf has "
        "usegmtime=yes, else the PBX's own zone)",
    )

    wb = sub.add_parser("web", help="the dashboard")
    wb_sub = wb.add_subparsers(dest="web_command", required=True)
    wb_sub.add_parser("passwd", help="hash a dashboard password for [web.dashboard] password_hash")

    tpl = sub.add_parser("templates", help="message templates")
    tpl_sub = tpl.add_subparsers(dest="templates_command", required=True)
    pv = tpl_sub.add_parser("preview", help="render every template and variant with sample data")
    pv.add_argument("-c", "--config", type=Path, help="textback.toml (defaults otherwise)")
    return parser


def _run_replay(args: argparse.Namespace) -> int:
    loaded = load(args.config)
    paths = list(args.traces) or builtin_traces()
    frames = load_frames(paths)

    def decider(call: CallEnded) -> dict[str, Any]:
        return dry_run(call, loaded)

    printer = CallPrinter(sys.stdout, as_json=args.json, decider=decider if args.dry_run else None)
    pace: bool | float = False if args.pace is None else args.pace
    stats = asyncio.run(replay(frames, loaded.settings, printer, pace=pace))
    log.info(
        "replayed %d file(s): %d events, %d calls, %d joined mid-call (not reported)",
        len(paths),
        stats.events,
        stats.calls_emitted,
        stats.partial_dropped,
    )
    return 0


def _run_service(args: argparse.Namespace) -> int:
    loaded = load(args.config)

    async def go() -> None:
        stop, reload = asyncio.Event(), asyncio.Event()
        install_signal_handlers(stop, reload)
        await serve(
            loaded, stop, settle_heap=True, reload=reload, load_config=lambda: load(args.config)
        )

    try:
        asyncio.run(go())
    except StartupError as exc:  # everything started was stopped: one line, no traceback
        print(f"asterisk-textback: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    summary = asyncio.run(
        run_demo(sys.stdout, directory=args.dir, calls=args.calls, rate=args.rate)
    )
    suppressed = ", ".join(f"{n} {r}" for r, n in summary.suppressed.most_common()) or "none"
    print(
        f"\n{summary.calls} calls: {summary.texts} texted ({summary.sent} handed to the log "
        f"provider), not texted: {suppressed}"
    )
    if args.dir:
        print(f"database: {summary.database}")
    return 0


def _run_db_upgrade(args: argparse.Namespace) -> int:
    loaded = load(args.config)
    url = database_url(loaded, os.environ)
    asyncio.run(upgrade(url))
    print(f"database schema is up to date ({loaded.settings.database.url})")
    return 0


def _run_preview(args: argparse.Namespace) -> int:
    loaded = load(args.config)
    business = loaded.settings.business
    sample = sample_context(
        business_name=business.name, booking_link=business.booking_link or "", tz=business.zone
    )
    print(format_table(preview_rows(loaded.settings.templates, sample)))
    return 0


def _run_check(args: argparse.Namespace) -> int:
    loaded = load(args.config)
    results = asyncio.run(run_checks(loaded, watch=max(0.0, args.watch)))
    print(format_results(results))
    return 0 if all(r.ok for r in results) else 1


def _run_send_test(args: argparse.Namespace) -> int:
    loaded = load(args.config)
    try:
        result = asyncio.run(send_test(loaded, args.number, args.text))
    except ProviderError as exc:
        print(f"not sent: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"sent via {result.provider}: message id {result.provider_message_id}")
    return 0


def _run_optout(args: argparse.Namespace) -> int:
    loaded = load(args.config)
    action = args.optout_command
    return asyncio.run(
        run_optout(
            loaded,
            action,
            number=getattr(args, "number", None),
            path=getattr(args, "csv", None),
        )
    )


def _zone(name: str, key: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise ConfigError(f"{key}: {name!r} is not a known time zone (e.g. UTC)") from None


def _run_report(args: argparse.Namespace) -> int:
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
        kpi=settings.kpi.to_kpi_settings(),
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


def _run_web_passwd() -> int:
    password = getpass.getpass("dashboard password: ")
    if len(password) < 10:
        print("asterisk-textback: error: use at least 10 characters", file=sys.stderr)
        return 2
    if getpass.getpass("again: ") != password:
        print("asterisk-textback: error: the passwords differ", file=sys.stderr)
        return 2
    print(f'[web.dashboard]\npassword_hash = "{hash_password(password)}"')
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    # ``run`` says what it does with each call at INFO; the other commands print results.
    default = logging.INFO if args.command == "run" else logging.WARNING
    logsafe.setup(args.verbose, default=default, log_pii=getattr(args, "log_pii", False))
    # The database (and its -wal/-shm), exports and any log file hold callers' numbers and
    # replies: whatever a command creates is readable by the service user only (0600/0700),
    # whatever the caller's umask (FreePBX's www-data must not read them).
    umask = os.umask(PRIVATE_UMASK)
    try:
        return _dispatch(args)
    finally:
        os.umask(umask)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if args.command == "replay":
            return _run_replay(args)
        if args.command == "run":
            return _run_service(args)
        if args.command == "demo":
            return _run_demo(args)
        if args.command == "db":
            return _run_db_upgrade(args)
        if args.command == "templates":
            return _run_preview(args)
        if args.command == "check":
            return _run_check(args)
        if args.command == "send-test":
            return _run_send_test(args)
        if args.command == "optout":
            return _run_optout(args)
        if args.command == "report":
            return _run_report(args)
        if args.command == "web":
            return _run_web_passwd()
    except TextbackError as exc:
        print(f"asterisk-textback: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    raise AssertionError(f"unhandled command {args.command}")  # argparse guarantees one
