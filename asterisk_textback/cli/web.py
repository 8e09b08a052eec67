"""``asterisk-textback web passwd``: hash a dashboard password for the config file."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asterisk_textback.cli.args import Commands


def add_parser(commands: Commands) -> None:
    """Register ``web`` and its one sub-command."""
    parser = commands.add_parser("web", help="the dashboard")
    actions = parser.add_subparsers(dest="web_command", required=True, help="what to do")
    passwd = actions.add_parser(
        "passwd", help="hash a dashboard password for [web.dashboard] password_hash"
    )
    passwd.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Ask for the password twice and print the config lines; 2 if it is refused."""
    import getpass
    import sys

    from asterisk_textback.web.dashboard.auth import hash_password

    password = getpass.getpass("dashboard password: ")
    if len(password) < 10:
        print("asterisk-textback: error: use at least 10 characters", file=sys.stderr)
        return 2
    if getpass.getpass("again: ") != password:
        print("asterisk-textback: error: the passwords differ", file=sys.stderr)
        return 2
    print(f'[web.dashboard]\npassword_hash = "{hash_password(password)}"')
    return 0
