"""``asterisk-textback check``: verify config, database, AMI login and provider.

The checks themselves live in :mod:`~asterisk_textback.cli.checks` and are imported when the
command runs, so ``--help`` does not load aiohttp or the AMI client.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from asterisk_textback.cli.args import add_config
from asterisk_textback.cli.check_report import DEFAULT_WATCH

if TYPE_CHECKING:
    from asterisk_textback.cli.args import Commands


def add_parser(commands: Commands) -> None:
    """Register ``check`` and its arguments."""
    parser = commands.add_parser("check", help="verify config, database, AMI login and provider")
    add_config(parser, required=True)
    parser.add_argument(
        "--watch",
        type=float,
        default=DEFAULT_WATCH,
        metavar="SECONDS",
        help="when the AMI user cannot read manager.conf, watch events this long for proof "
        f"of its read classes (default {DEFAULT_WATCH:g}; 60 with a test call to prove them all)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print every check's result; 0 only if none failed."""
    import asyncio
    import logging

    from asterisk_textback.cli.check_report import CheckResult, format_results
    from asterisk_textback.cli.check_tenants import check_tenants
    from asterisk_textback.cli.checks import run_checks
    from asterisk_textback.errors import ConfigError
    from asterisk_textback.textback.loading import load

    config = str(args.config)
    try:
        # The HELP/STOP answers get lines of their own (carrier rules), one per miss.
        loaded = load(args.config, carrier_rules=False)
    except ConfigError as exc:
        # Nothing else can be checked without the settings: this one line, with its fix.
        # The loader names the file (and the line, where it can); name it once.
        why = str(exc) if str(exc).startswith(config) else f"{config}: {exc}"
        fix = f"correct it in {config}, then run check again"
        print(format_results([CheckResult("config", False, why, fix)]))
        return 1
    # Each check reports on its own line: the AMI client's warnings would only repeat it.
    ami_log = logging.getLogger("asterisk_textback.ami")
    level = ami_log.level
    if not getattr(args, "verbose", 0):
        ami_log.setLevel(logging.ERROR)
    try:
        results = asyncio.run(run_checks(loaded, watch=max(0.0, args.watch), config=config))
    finally:
        ami_log.setLevel(level)
    tenants = check_tenants(args.config)
    if tenants is not None:
        results.append(tenants)
    print(format_results(results))
    return 0 if all(r.ok for r in results) else 1
