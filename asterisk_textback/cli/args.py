"""Argument pieces several commands share; standard library only, so ``--help`` stays fast."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    # argparse has no public name for what ``add_subparsers`` returns.
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_config(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """``-c/--config``: the service's commands need the file, the others fall back to defaults."""
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        required=required,
        help="textback.toml" if required else "textback.toml (defaults otherwise)",
    )


def speed(value: str) -> float:
    """A positive number (``--pace``, ``--rate``); argparse turns the error into usage + exit 2."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--pace: {value!r} is not a number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError("--pace: must be greater than 0")
    return number
