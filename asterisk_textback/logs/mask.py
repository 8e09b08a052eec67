"""Logs without phone numbers: masking at our call sites, a filter as the safety net.

Callers' numbers are personal data; a log file is read by more people, kept longer and
copied further than the database. Our own log lines pass numbers through :func:`mask`
(``+12125550666`` → ``+1•••••0666``: the country code and the last four digits, enough to
follow one call); :class:`MaskNumbers`, installed on the log handlers by :func:`setup`,
masks whatever number-like text still reaches a record (a provider's error message, an
exception, a library's line). ``run --log-pii`` turns both off, and with it SQLAlchemy's
``hide_parameters`` (engines made after :func:`setup`), for a debugging session on a
machine the admin trusts.
"""

from __future__ import annotations

import logging
import re
from typing import Final

__all__ = ["MASK", "MaskNumbers", "mask", "mask_text", "phone", "setup", "showing_pii"]

#: What stands for the hidden digits: always five, so the length is not told either.
MASK: Final = "•••••"
#: Numbers this short are extensions or short codes, not a person's number.
_MAX_EXTENSION: Final = 6
#: E.164 country codes that are one or two digits long; every other one has three.
_CC1: Final = frozenset("17")
_CC2: Final = frozenset(
    {
        *("20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45"),
        *("46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61"),
        *("62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94"),
        *("95", "98"),
    }
)
# A run of digits that may be a phone number: ``+`` and 8-15 digits, or a national number
# of 8-15 digits, possibly grouped with single spaces, dashes or brackets. Not when it is part
# of a word, a longer number, a decimal (Asterisk's uniqueids look like ``1795757475.63`` and
# stay readable), a date or a time.
_NUMBER: Final = re.compile(
    r"(?<![\w.+\-/])"
    r"(?!\d{4}-\d\d-\d\d)"
    r"(?P<number>\+?\(?\d(?:(?:[ \-]|\) ?)?\d){7,16})"
    r"(?!\w|\.\d|-\d)"
)


def _country_code(digits: str) -> str:
    if digits[:1] in _CC1:
        return digits[:1]
    if digits[:2] in _CC2:
        return digits[:2]
    return digits[:3]


def mask(number: str | None) -> str:
    """``+12125550666`` → ``+1•••••0666``; a national number keeps its last four digits;
    extensions (six digits or fewer) and text without digits are returned as they are."""
    if not number:
        return ""
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) <= _MAX_EXTENSION:
        return number
    if number.lstrip().startswith("+"):
        return f"+{_country_code(digits)}{MASK}{digits[-4:]}"
    return f"{MASK}{digits[-4:]}"


def mask_text(text: str) -> str:
    """``text`` with every phone-number-like run of digits masked."""
    return _NUMBER.sub(lambda m: mask(m.group("number")), text)


class MaskNumbers(logging.Filter):
    """Masks phone numbers in each record's message and exception text (a handler filter)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops one."""
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


class _Numbers:
    """Whether our log lines show numbers in full: set once at start-up by :func:`setup`
    (like the logging configuration itself, it belongs to the process)."""

    __slots__ = ("show",)

    def __init__(self) -> None:
        self.show = False


_numbers: Final = _Numbers()


def showing_pii() -> bool:
    """True when ``run --log-pii`` asked for numbers and SQL parameters in the log."""
    return _numbers.show


def phone(number: str | None) -> str:
    """A number as our log lines write it: masked unless ``--log-pii``."""
    return (number or "") if _numbers.show else mask(number)


def setup(verbosity: int, *, default: int = logging.WARNING, log_pii: bool = False) -> None:
    """Configure logging for a command: ``default`` level, one level more per ``-v``;
    SQL statements only from ``-vv`` (their parameters only with ``log_pii``); numbers
    masked unless ``log_pii``."""
    level = max(logging.DEBUG, default - 10 * verbosity)
    # Libraries (aiosqlite, asyncio, ...) get DEBUG only at -vv: `run -v` is our reasoning.
    libraries = logging.DEBUG if verbosity >= 2 else max(level, logging.INFO)
    logging.basicConfig(level=libraries, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("asterisk_textback").setLevel(level)
    # SQLAlchemy logs each statement at INFO: only on request, whatever the default.
    logging.getLogger("sqlalchemy").setLevel(logging.INFO if verbosity >= 2 else logging.WARNING)
    # aiohttp logs each HTTP request at INFO (webhook callers' addresses): from -v.
    logging.getLogger("aiohttp.access").setLevel(logging.INFO if verbosity else logging.WARNING)
    _numbers.show = log_pii
    for handler in logging.getLogger().handlers:
        masks = [f for f in handler.filters if isinstance(f, MaskNumbers)]
        if log_pii:
            for mask_filter in masks:
                handler.removeFilter(mask_filter)
        elif not masks:
            handler.addFilter(MaskNumbers())
