"""Argument pieces several commands share; standard library only, so ``--help`` stays fast."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from asterisk_textback.errors import ConfigError

if TYPE_CHECKING:
    # argparse has no public name for what ``add_subparsers`` returns.
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

#: Where a command looks for its config when ``-c`` is not given.
DEFAULT_CONFIG = Path("/etc/asterisk-textback/textback.toml")
#: Environment variable naming another default config file (tests, a second instance).
CONFIG_ENV = "TEXTBACK_CONFIG"

#: Whether a command needs a config file, given its arguments (``report --cdr`` does not).
NeedsConfig: TypeAlias = "bool | Callable[[argparse.Namespace], bool]"


def add_config(parser: argparse.ArgumentParser, *, required: NeedsConfig = True) -> None:
    """``-c/--config``; without it, the default file (:func:`config_path`).

    ``required=False``: the built-in defaults serve when neither exists (``replay``); a
    callable decides from the parsed arguments.
    """
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        help=f"textback.toml (default: ${CONFIG_ENV} or {DEFAULT_CONFIG}"
        + (", else built-in defaults)" if required is False else ")"),
    )
    parser.set_defaults(config_required=required)


def default_config(environ: Mapping[str, str]) -> Path:
    """The file used without ``-c``: ``$TEXTBACK_CONFIG``, else ``/etc/asterisk-textback/…``."""
    named = environ.get(CONFIG_ENV)
    return Path(named) if named else DEFAULT_CONFIG


def config_path(args: argparse.Namespace, environ: Mapping[str, str]) -> Path | None:
    """The config file a command reads: ``-c``, else the default file when it exists.

    None: run on the built-in defaults (only where the command allows it). Raises
    ``ConfigError`` ("no config: pass -c FILE …") when the command needs a file and has none.
    """
    given: Path | None = getattr(args, "config", None)
    if given is not None:
        return given
    default = default_config(environ)
    if default.is_file():
        return default
    required: NeedsConfig = getattr(args, "config_required", False)
    if callable(required):
        required = required(args)
    if not required:
        return None
    raise ConfigError(f"no config: pass -c FILE (or create {default})")


def speed(value: str) -> float:
    """A positive number (``--pace``, ``--rate``); argparse turns the error into usage + exit 2."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--pace: {value!r} is not a number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError("--pace: must be greater than 0")
    return number
