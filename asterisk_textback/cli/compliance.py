"""``asterisk-textback compliance kit``: the 10DLC campaign registration packet.

The kit, the store and the CDR reader are imported when the command runs, so ``--help``
stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from asterisk_textback.cli.args import add_config
from asterisk_textback.cli.tenant_arg import add_tenant

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime
    from typing import TextIO

    from asterisk_textback.cli.args import Commands
    from asterisk_textback.compliance.kit_volume import Volume
    from asterisk_textback.textback.loading import PreparedConfig


def add_parser(commands: Commands) -> None:
    """Register ``compliance`` and its ``kit`` sub-command."""
    parser = commands.add_parser("compliance", help="texting compliance: 10DLC registration")
    actions = parser.add_subparsers(dest="compliance_command", required=True, help="what to do")
    kit = actions.add_parser(
        "kit",
        help="the 10DLC campaign registration packet, filled from the config and templates "
        "(samples byte for byte as sent; volume from the last 30 days)",
    )
    add_config(kit, required=True)
    add_tenant(kit)
    kit.add_argument(
        "--format", choices=("md", "json"), default="md", help="Markdown (default) or JSON"
    )
    kit.add_argument(
        "--cdr",
        type=Path,
        help="Asterisk cdr_csv Master.csv: estimates the volume when the database has no texts",
    )
    kit.add_argument("--cdr-tz", help="time zone of the CDR's times (default: pbx.cdr_timezone)")
    kit.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the kit in the chosen format."""
    import asyncio
    import os
    import sys
    from datetime import UTC, datetime

    from asterisk_textback.cli.tenant_arg import load_for
    from asterisk_textback.compliance.kit import build_kit
    from asterisk_textback.compliance.kit_render import kit_json, kit_markdown

    loaded = load_for(args)
    now = datetime.now(UTC)
    volume = asyncio.run(_volume(loaded, args.cdr, args.cdr_tz, now, os.environ, sys.stderr))
    kit = build_kit(loaded.settings, loaded.renderer, volume)
    print(kit_json(kit) if args.format == "json" else kit_markdown(kit))
    return 0


async def _volume(
    loaded: PreparedConfig,
    cdr: Path | None,
    cdr_tz: str | None,
    now: datetime,
    environ: Mapping[str, str],
    err: TextIO,
) -> Volume:
    """From the database's last 30 days, else the CDR file, else "no history"."""
    from asterisk_textback.compliance import kit_volume
    from asterisk_textback.errors import ConfigError

    found = await database_volume(loaded, now, environ, err)
    if found is not None:
        return found
    if cdr is not None:
        from zoneinfo import ZoneInfo

        settings = loaded.settings
        name = cdr_tz or settings.pbx.cdr_timezone
        try:
            cdr_zone = ZoneInfo(name)
        except (ValueError, KeyError, OSError):
            raise ConfigError(f"--cdr-tz: {name!r} is not a known time zone") from None
        found = kit_volume.from_cdr_file(cdr, settings.business.zone, cdr_zone)
    return found or kit_volume.no_history()


async def database_volume(
    loaded: PreparedConfig,
    now: datetime,
    environ: Mapping[str, str],
    err: TextIO | None = None,
) -> Volume | None:
    """The volume of the texts in the configured database; None when it has none.

    A database that does not exist is not created; one that cannot be read, or has an old
    schema, is said in one line on ``err`` and counts as no history.
    """
    import sys
    from datetime import timedelta

    from asterisk_textback.app.service import database_url
    from asterisk_textback.compliance import kit_volume
    from asterisk_textback.errors import TextbackError
    from asterisk_textback.store.engine import without_password
    from asterisk_textback.store.volume import read_text_counts

    since = now - timedelta(days=kit_volume.WINDOW_DAYS)
    url = database_url(loaded, environ)
    try:
        counts = await read_text_counts(url, since)
    except (TextbackError, OSError) as exc:
        out = err if err is not None else sys.stderr
        where = without_password(url)
        print(f"asterisk-textback: database {where} not used for the volume: {exc}", file=out)
        return None
    if counts is None:
        return None
    return kit_volume.from_texts(
        counts.texts,
        counts.first_at,
        now,
        textbacks=counts.textbacks,
        missed=counts.missed_calls,
    )
