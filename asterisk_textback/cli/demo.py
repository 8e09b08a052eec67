"""``asterisk-textback demo``: the whole pipeline against a simulated PBX, nothing to set up.

A built-in AMI server streams real recorded Asterisk calls (fresh ids, fresh caller numbers,
starting now); the real listener, tracker, policy, templates, SQLite outbox and dispatcher
handle them, and the ``log`` provider stands in for the SMS provider. The pipeline's modules
are imported inside the functions that run it, so ``--help`` does not load them.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from asterisk_textback.cli.args import speed

if TYPE_CHECKING:
    from asterisk_textback.cli.args import Commands
    from asterisk_textback.config import Settings
    from asterisk_textback.textback.handler import CallResult

#: Voicemail greetings and messages are shortened to this many quiet seconds.
_MAX_GAP = 3.0


@dataclass(slots=True)
class DemoSummary:
    """What the demo did, for its closing lines and for tests."""

    calls: int = 0
    texts: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    database: str = ""


def add_parser(commands: Commands) -> None:
    """Register ``demo`` and its arguments."""
    parser = commands.add_parser(
        "demo",
        help="the whole pipeline against a simulated PBX (SQLite, log provider)",
        description=(
            "A built-in AMI server plays real recorded Asterisk calls with fresh ids and "
            "numbers; prints each call and the text it would send as it happens."
        ),
    )
    parser.add_argument("--calls", type=int, default=12, help="how many calls (default 12)")
    parser.add_argument("--rate", type=speed, default=1.0, help="calls per second (default 1)")
    parser.add_argument("--dir", type=Path, help="keep the SQLite database in this folder")
    parser.add_argument(
        "--web",
        action="store_true",
        help="keep running with the dashboard on 127.0.0.1 and print its URL and a login",
    )
    parser.add_argument(
        "--port", type=int, help="with --web: the dashboard's port (default: a free one)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print what it did; 0 once every call was handled (with ``--web``,
    once Ctrl-C or SIGTERM stopped it)."""
    import asyncio
    import sys

    from asterisk_textback.errors import StartupError

    if args.port is not None and not args.web:
        print("asterisk-textback: error: --port goes with --web", file=sys.stderr)
        return 2
    web_port = (args.port or 0) if args.web else None
    demo = run_demo(
        sys.stdout, directory=args.dir, calls=args.calls, rate=args.rate, web_port=web_port
    )
    try:
        asyncio.run(demo)
    except StartupError as exc:  # e.g. --port in use: one line, everything stopped
        hint = "; for the demo: another --port, or none for a free one"
        print(f"asterisk-textback: cannot start: {exc}{hint}", file=sys.stderr)
        return 1
    return 0


def closing(summary: DemoSummary, *, kept: bool) -> str:
    """The demo's last lines: what happened to the calls (and where the database is)."""
    suppressed = ", ".join(f"{n} {r}" for r, n in summary.suppressed.most_common()) or "none"
    text = (
        f"\n{summary.calls} calls: {summary.texts} texted ({summary.sent} handed to the log "
        f"provider), not texted: {suppressed}\n"
    )
    if kept:
        text += f"database: {summary.database}\n"
    return text


def demo_settings(database_url: str) -> Settings:
    """Embedded defaults plus a sample business; quiet hours off so texts go out now."""
    from asterisk_textback.ami.settings import PbxSettings
    from asterisk_textback.config import Settings
    from asterisk_textback.policy.settings import BusinessSettings, SuppressionSettings
    from asterisk_textback.sms.settings import ProviderSettings
    from asterisk_textback.store.settings import DatabaseSettings
    from asterisk_textback.web.settings import WebSettings

    return Settings(
        pbx=PbxSettings(name="demo-pbx"),
        business=BusinessSettings(name="Acme Plumbing", booking_link="https://acme.example/book"),
        suppression=SuppressionSettings(quiet_hours=None),
        provider=ProviderSettings(name="log", default_sender="+15555550100"),
        database=DatabaseSettings(url=database_url),
        web=WebSettings(enabled=False),
    )


async def _until(predicate: Callable[[], bool]) -> None:
    import asyncio

    # The counters live in the pipeline's objects, which expose no events of their own.
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.05)


class _Printer:
    def __init__(self, out: TextIO, summary: DemoSummary) -> None:
        self._out = out
        self._summary = summary

    def __call__(self, result: CallResult) -> None:
        call, decision, draft = result.call, result.decision, result.draft
        self._summary.calls += 1
        when = datetime.fromtimestamp(call.ended_at).strftime("%H:%M:%S")
        who = f"{call.caller_number} {call.caller_name}".strip()
        line = f"{when}  {call.direction:<8} {call.outcome:<19} {call.reason:<20} {who}"
        if draft is not None:
            self._summary.texts += 1
            line += f"\n          -> text to {draft.to} ({draft.template}/{draft.variant}, "
            line += f"{draft.segments} segment(s), {draft.encoding}): {draft.body}"
        else:
            reason = str(decision.reason)
            self._summary.suppressed[reason] += 1
            line += f"\n          -> no text: {reason}"
        self._out.write(line + "\n")
        self._out.flush()


async def run_demo(
    out: TextIO,
    *,
    directory: Path | None = None,
    calls: int = 12,
    rate: float = 1.0,
    max_gap: float = _MAX_GAP,
    web_port: int | None = None,
) -> DemoSummary:
    """Stream ``calls`` simulated calls at ``rate`` per second through the real pipeline.

    ``web_port``: also serve the dashboard on 127.0.0.1 (0: a free port), print its URL and
    a generated login, and keep running after the calls until SIGINT/SIGTERM.
    """
    import asyncio
    import secrets
    import tempfile
    import time

    from asterisk_textback.ami.sim.builtin import builtin_traces
    from asterisk_textback.ami.sim.server import AmiServer
    from asterisk_textback.ami.sim.tracefile import read_trace
    from asterisk_textback.ami.sim.workload import call_stream
    from asterisk_textback.app.service import RunningService, install_signal_handlers, serve
    from asterisk_textback.app.web_listener import WebListener
    from asterisk_textback.cli.demo_web import print_login, with_dashboard
    from asterisk_textback.store.schema import upgrade
    from asterisk_textback.textback.loading import prepare

    with tempfile.TemporaryDirectory(prefix="textback-demo-") as tmp:
        folder = directory or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite+aiosqlite:///{folder / 'textback.db'}"
        await upgrade(url)
        summary = DemoSummary(database=str(folder / "textback.db"))
        traces = [read_trace(p) for p in builtin_traces()]
        frames = call_stream(
            traces, calls, rate=rate, start_at=time.time() + 0.5, seed=7, max_gap=max_gap
        )
        secret = secrets.token_hex(8)
        async with AmiServer({"demo": secret}) as server:
            settings = demo_settings(url)
            settings = settings.model_copy(
                update={
                    "pbx": settings.pbx.model_copy(
                        update={"port": server.port, "username": "demo", "secret": secret}
                    )
                }
            )
            login = None
            if web_port is not None:
                settings, login = with_dashboard(settings, web_port)
            web = WebListener()
            stop = asyncio.Event()
            if login is not None:
                install_signal_handlers(stop)  # Ctrl-C: stop cleanly, exit 0

            async def play(parts: RunningService) -> None:
                await parts.connection.wait_ready()
                await server.wait_logged_in()
                await server.stream(frames, pace=True)
                await _until(lambda: summary.calls >= calls)
                await _until(lambda: parts.dispatcher.stats.sent >= summary.texts)
                summary.sent = parts.dispatcher.stats.sent
                out.write(closing(summary, kept=directory is not None))
                if login is not None:
                    out.write(f"\ndashboard still at {web.url} (Ctrl-C to stop)\n")
                out.flush()

            playing: set[asyncio.Task[None]] = set()

            async def drive(parts: RunningService) -> None:
                if login is None:
                    await play(parts)
                    stop.set()
                    return
                print_login(out, web.url, login)
                # In the background: Ctrl-C stops the demo even while calls are playing.
                playing.add(asyncio.create_task(play(parts)))

            try:
                await serve(
                    prepare(settings),
                    stop,
                    environ={},
                    on_decided=_Printer(out, summary),
                    on_ready=drive,
                    web_listener=web,
                )
            finally:
                for task in playing:
                    task.cancel()
                await asyncio.gather(*playing, return_exceptions=True)
    return summary
