"""The ``asterisk-textback`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from asterisk_textback import __version__
from asterisk_textback.config import load_settings
from asterisk_textback.data import builtin_traces
from asterisk_textback.errors import TextbackError
from asterisk_textback.output import CallPrinter
from asterisk_textback.replay import load_frames, replay

log = logging.getLogger("asterisk_textback")


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
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
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
        "--pace",
        nargs="?",
        const=1.0,
        type=_pace,
        default=None,
        metavar="SPEED",
        help="replay at the recorded pace (Timestamp headers), optionally SPEED times faster",
    )
    return parser


def _run_replay(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    paths = list(args.traces) or builtin_traces()
    frames = load_frames(paths)
    printer = CallPrinter(sys.stdout, as_json=args.json)
    pace: bool | float = False if args.pace is None else args.pace
    stats = asyncio.run(replay(frames, settings, printer, pace=pace))
    log.info(
        "replayed %d file(s): %d events, %d calls, %d joined mid-call (not reported)",
        len(paths),
        stats.events,
        stats.calls_emitted,
        stats.partial_dropped,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "replay":
            return _run_replay(args)
    except TextbackError as exc:
        print(f"asterisk-textback: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {args.command}")  # argparse guarantees one
