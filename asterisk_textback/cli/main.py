"""The ``asterisk-textback`` command line: builds the parser and hands over to one command.

Only the standard library and the command modules' ``add_parser`` functions are imported
here; each command imports what it needs when it runs, so ``--help`` and ``--version`` start
at once instead of loading aiohttp, SQLAlchemy and pydantic first.

``main.py`` builds the parser from each command module's ``add_parser()`` and dispatches;
``replay``, ``run``, ``demo``, ``db``, ``check``, ``send_test``, ``optout``, ``report``,
``web`` and ``templates`` are the commands, each importing what it needs only when it runs.
The rest serve them: ``args`` (shared arguments), ``checks``, ``check_classes`` and
``check_report`` (what ``check`` verifies), ``dryrun`` and ``output`` (``replay``'s printing),
``demo_web`` (``demo --web``'s dashboard and login). Without ``-c``, ``args.config_path``
picks ``$TEXTBACK_CONFIG`` or ``/etc/asterisk-textback/textback.toml`` before a command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from asterisk_textback import __version__
from asterisk_textback.cli import (
    check,
    compliance,
    consent,
    db,
    demo,
    optout,
    replay,
    report,
    run,
    send_test,
    templates,
    tenant,
    web,
)
from asterisk_textback.cli.args import config_path
from asterisk_textback.errors import TextbackError

#: Files and directories the commands create are private to the user running them.
PRIVATE_UMASK = 0o077

#: In the order ``--help`` lists them.
_COMMANDS = (
    replay,
    run,
    demo,
    db,
    check,
    send_test,
    optout,
    consent,
    report,
    web,
    templates,
    compliance,
    tenant,
)


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
    commands = parser.add_subparsers(dest="command", required=True, help="the command to run")
    for command in _COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    # Imported after parsing: ``--help`` and ``--version`` need no logging.
    import logging

    from asterisk_textback.logs import mask as logsafe

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
    command: Callable[[argparse.Namespace], int] = args.run
    try:
        if hasattr(args, "config_required"):
            args.config = config_path(args, os.environ)
        return command(args)
    except TextbackError as exc:
        print(f"asterisk-textback: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
