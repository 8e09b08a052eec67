"""``asterisk-textback run``: the service itself, until SIGTERM/SIGINT (SIGHUP reloads)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from asterisk_textback.cli.args import add_config

if TYPE_CHECKING:
    from asterisk_textback.cli.args import Commands


def add_parser(commands: Commands) -> None:
    """Register ``run`` and its arguments."""
    parser = commands.add_parser("run", help="the service: listen to the PBX, text missed callers")
    add_config(parser, required=True)
    parser.add_argument(
        "--log-pii",
        action="store_true",
        help="log callers' numbers in full and, with -vv, SQL parameters (masked otherwise)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve until stopped; 0 after a clean shutdown."""
    import asyncio

    from pathlib import Path

    # The module, not its function: bench/pipeline_probe.py wraps ``service.serve``.
    from asterisk_textback.app import service
    from asterisk_textback.app.host import serve_tenants
    from asterisk_textback.tenancy.files import load_tenants

    tenants = load_tenants(args.config)

    async def go() -> None:
        from asterisk_textback.app.environment import require_env

        # Every unset variable at once, not the first; a tenant's own are its own failure.
        await require_env(tenants.main, os.environ)
        stop, reload = asyncio.Event(), asyncio.Event()
        service.install_signal_handlers(stop, reload)
        await serve_tenants(
            tenants,
            stop,
            settle_heap=True,
            reload=reload,
            load_tenants=lambda: load_tenants(args.config),
            main_path=Path(args.config),
        )

    from asterisk_textback.errors import StartupError

    try:
        asyncio.run(go())
    except StartupError as exc:  # everything started was stopped: one line, no traceback
        print(f"asterisk-textback: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
