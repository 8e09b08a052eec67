"""``asterisk-textback templates preview``: every template and variant, as it will be billed.

Under the table, a WARN line for each template a rule can send as a number's first text that
carries promotional wording, naming the words (``compliance.first_text``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from asterisk_textback.cli.args import add_config
from asterisk_textback.cli.tenant_arg import add_tenant

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
    add_tenant(preview)
    preview.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the rendered templates as a table, what the figures include, and warnings."""
    from asterisk_textback.cli.tenant_arg import load_for
    from asterisk_textback.compliance.first_text import lint_first_texts
    from asterisk_textback.templates.preview import format_table, note, preview_rows

    # The HELP/STOP answers are not templates: `check` reports on them.
    loaded = load_for(args, carrier_rules=False)
    settings = loaded.settings
    print(format_table(preview_rows(settings, loaded.renderer)))
    print()
    print(note(settings.templates, booking_link=bool(settings.business.booking_link)))
    findings = lint_first_texts(settings)
    if findings:
        print()
    for finding in findings:
        print(f"[WARN] {finding.message()}")
    return 0
