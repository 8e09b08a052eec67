"""``asterisk-textback replay``: recorded traces through the live code path over TCP.

A real :class:`AmiServer` on a loopback port streams the frames; the same
:class:`AmiConnection`, :class:`CallListener` and :class:`CallTracker` as the live service
receive them. A ``UserEvent`` after the last frame tells the consumer the replay is over.
The AMI, tracker and config modules are imported inside the functions that use them, so
``--help`` does not load them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asterisk_textback.cli.args import add_config, speed

if TYPE_CHECKING:
    from asterisk_textback.calls.listener import OnCall
    from asterisk_textback.calls.model import CallEnded
    from asterisk_textback.calls.state import TrackerStats
    from asterisk_textback.cli.args import Commands
    from asterisk_textback.config import Settings

END_MARKER = "TextbackReplayEnd"
_END_FRAME = f"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: {END_MARKER}\r\n\r\n".encode()


def add_parser(commands: Commands) -> None:
    """Register ``replay`` and its arguments."""
    parser = commands.add_parser(
        "replay",
        help="classify recorded AMI traces through the live listener path",
        description=(
            "Stream recorded AMI traces through a loopback AMI server into the same "
            "connection and call tracker the live service uses; print every finished call. "
            "Without TRACE files, replays the recordings shipped with the package."
        ),
    )
    parser.add_argument(
        "traces",
        nargs="*",
        type=Path,
        metavar="TRACE.ami",
        help="recorded AMI traces (default: the recordings shipped with the package)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line per call")
    add_config(parser, required=False)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="also run the policy on each call (empty history, now = the call's end)",
    )
    parser.add_argument(
        "--pace",
        nargs="?",
        const=1.0,
        type=speed,
        default=None,
        metavar="SPEED",
        help="replay at the recorded pace (Timestamp headers), optionally SPEED times faster",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Replay the traces and print each call; 0 once every frame was streamed."""
    import asyncio
    import logging
    import sys

    from asterisk_textback.ami.sim.builtin import builtin_traces
    from asterisk_textback.cli.dryrun import dry_run
    from asterisk_textback.cli.output import CallPrinter
    from asterisk_textback.textback.loading import load

    loaded = load(args.config)
    paths = list(args.traces) or builtin_traces()
    frames = load_frames(paths)

    def decider(call: CallEnded) -> dict[str, Any]:
        return dry_run(call, loaded)

    printer = CallPrinter(sys.stdout, as_json=args.json, decider=decider if args.dry_run else None)
    pace: bool | float = False if args.pace is None else args.pace
    stats = asyncio.run(replay(frames, loaded.settings, printer, pace=pace))
    logging.getLogger("asterisk_textback").info(
        "replayed %d file(s): %d events, %d calls, %d joined mid-call (not reported)",
        len(paths),
        stats.events,
        stats.calls_emitted,
        stats.partial_dropped,
    )
    return 0


def load_frames(paths: Sequence[Path]) -> list[bytes]:
    """All frames of the given traces, one file after the other."""
    from asterisk_textback.ami.sim.tracefile import read_trace

    frames: list[bytes] = []
    for path in paths:
        frames.extend(read_trace(path))
    return frames


async def replay(
    frames: Sequence[bytes],
    settings: Settings,
    on_call: OnCall,
    *,
    pace: bool | float = False,
) -> TrackerStats:
    """Stream ``frames`` through a loopback AMI server into the live listener path."""
    import asyncio
    import secrets

    from asterisk_textback.ami.connection import AmiConnection
    from asterisk_textback.ami.framing import TRACKED_VARIABLES
    from asterisk_textback.ami.sim.server import AmiServer
    from asterisk_textback.ami.types import AmiEvent
    from asterisk_textback.calls.listener import CallListener
    from asterisk_textback.calls.tracker import CallTracker

    secret = secrets.token_hex(16)
    done = asyncio.get_running_loop().create_future()

    def on_event(event: AmiEvent) -> None:
        if event.get("UserEvent") == END_MARKER and not done.done():
            done.set_result(None)

    tracker = CallTracker(settings.tracker, pbx=settings.pbx.name)
    listener = CallListener(tracker, on_call, on_event=on_event)
    async with AmiServer({"replay": secret}) as server:
        pbx = settings.pbx.model_copy(
            update={
                "host": "127.0.0.1",
                "port": server.port,
                "username": "replay",
                "secret": secret,
                "secret_env": None,
                "tls": False,
            }
        )
        async with AmiConnection(pbx, environ={}, keep_variables=TRACKED_VARIABLES) as conn:
            consumer = asyncio.create_task(conn.run_consumer(listener.handle))
            try:
                await conn.wait_ready()
                await server.wait_logged_in()
                await server.stream([*frames, _END_FRAME], pace=pace)
                await asyncio.wait({done, consumer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await conn.close()
                await consumer
    return tracker.stats
