"""``asterisk-textback templates preview``: every template and variant, as it will be billed."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from asterisk_textback.cli.args import add_config

if TYPE_CHECKING:
    from asterisk_textback.cli.args import Commands


def add_parser(commands: Commands) -> None:
    """Register ``templates`` and its one sub-command."""
    parser = commands.add_parser("templates", help="message templates")
    actions = parser.add_subparsers(dest="templates_command", required=True, help="what to do")
    preview = actions.add_parser(
        "preview",
        help="render every template and variant for a sample call exactly as sent "
        "(tracked booking link, opt-out footer): the segments shown are the ones billed",
    )
    add_config(preview)
    preview.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the rendered templates as a table, and what the figures include."""
    from asterisk_textback.templates.preview import format_table, note, preview_rows
    from asterisk_textback.textback.loading import load

    loaded = load(args.config)
    settings = loaded.settings
    print(format_table(preview_rows(settings, loaded.renderer)))
    print()
    print(note(settings.templates, booking_link=bool(settings.business.booking_link)))
    return 0
