"""``asterisk-textback templates preview``: every template and variant with sample data."""

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
        "preview", help="render every template and variant with sample data"
    )
    add_config(preview)
    preview.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the rendered templates as a table."""
    from asterisk_textback.templates.context import sample_context
    from asterisk_textback.templates.preview import format_table, preview_rows
    from asterisk_textback.textback.loading import load

    loaded = load(args.config)
    business = loaded.settings.business
    sample = sample_context(
        business_name=business.name, booking_link=business.booking_link or "", tz=business.zone
    )
    print(format_table(preview_rows(loaded.settings.templates, sample)))
    return 0
