"""Caller numbers as Asterisk reports them, normalised to E.164 and classified.

Asterisk passes the caller ID through from the trunk: ``2125550147``, ``+4915112345678``,
``0044...``, ``anonymous``, ``<unknown>``. We only undo what is universal — separators, a
leading ``+``, the region's own international prefix (phonenumbers knows ``011`` for US,
``00`` for most of Europe) and ``00`` as a last resort — and never strip trunk-specific digits
by guessing: a number that does not come out valid is not texted.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType
from phonenumbers import timezone as number_timezone


class NumberKind(StrEnum):
    """What a caller ID turned out to be."""

    VALID = "valid"
    #: Withheld, restricted, ``<unknown>`` or empty: nobody to text.
    ANONYMOUS = "anonymous"
    #: Too short to be a subscriber number (short codes, service numbers).
    SHORT_CODE = "short_code"
    INVALID = "invalid"


class LineType(StrEnum):
    """The number type phonenumbers assigns from the numbering plan (not a live lookup)."""

    FIXED_LINE = "fixed_line"
    MOBILE = "mobile"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"


_LINE_TYPES: Final = {
    PhoneNumberType.FIXED_LINE: LineType.FIXED_LINE,
    PhoneNumberType.MOBILE: LineType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: LineType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.TOLL_FREE: LineType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE: LineType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST: LineType.SHARED_COST,
    PhoneNumberType.VOIP: LineType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER: LineType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER: LineType.PAGER,
    PhoneNumberType.UAN: LineType.UAN,
    PhoneNumberType.VOICEMAIL: LineType.VOICEMAIL,
}

#: Caller IDs that carriers and Asterisk use for "no number" (compared case-insensitively).
ANONYMOUS_IDS: Final = frozenset(
    {
        "",
        "anonymous",
        "<unknown>",
        "unknown",
        "restricted",
        "private",
        "withheld",
        "unavailable",
        "blocked",
        "asterisk",
        "s",
    }
)
#: Un-prefixed numbers of at most this many digits are short codes, not subscriber numbers.
MAX_SHORT_CODE_DIGITS: Final = 6
_SEPARATORS = re.compile(r"[\s().\-/]")
_DIALLABLE = re.compile(r"^\+?\d+$")
# phonenumbers' answer when it has no time zone for a number.
_UNKNOWN_ZONE: Final = "Etc/Unknown"


@dataclass(frozen=True, slots=True)
class CallerNumber:
    """A caller ID, classified; the E.164 fields are set only for valid numbers."""

    raw: str
    kind: NumberKind
    e164: str | None = None
    #: ISO region, e.g. "US"; "001" for non-geographic numbers.
    region: str | None = None
    country_code: int | None = None
    national: str | None = None
    line_type: LineType | None = None
    #: IANA zones the number may be in, most likely first; empty when unknown.
    timezones: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """True when the number parsed to a valid E.164 number."""
        return self.kind is NumberKind.VALID

    def rate_prefix(self, digits: int) -> str | None:
        """``+`` country code and the first ``digits`` national digits (a prefix of e164)."""
        if self.country_code is None or self.national is None:
            return None
        return f"+{self.country_code}{self.national[:digits]}"


def _valid(candidate: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


@functools.lru_cache(maxsize=4096)
def parse_caller(raw: str, default_region: str) -> CallerNumber:
    """Normalise and classify a raw caller ID, reading national numbers in ``default_region``.

    Memoised (a pure function of its arguments, with an immutable result): each call's
    number is read by the tracker's consumer, the policy and the recorder, and phonenumbers
    is the costliest part of deciding about a call.
    """
    text = raw.strip()
    if text.lower() in ANONYMOUS_IDS:
        return CallerNumber(raw, NumberKind.ANONYMOUS)
    compact = _SEPARATORS.sub("", text)
    if not _DIALLABLE.match(compact):
        return CallerNumber(raw, NumberKind.INVALID)
    if not compact.startswith("+") and len(compact) <= MAX_SHORT_CODE_DIGITS:
        return CallerNumber(raw, NumberKind.SHORT_CODE)
    candidates = [compact]
    if compact.startswith("00"):
        # phonenumbers only knows the default region's own international prefix (011 in the
        # US); "00" is the ITU recommendation and what most trunks outside NANP send.
        candidates.append("+" + compact[2:])
    for candidate in candidates:
        number = _valid(candidate, default_region)
        if number is not None:
            return _describe(raw, number)
    return CallerNumber(raw, NumberKind.INVALID)


def _describe(raw: str, number: phonenumbers.PhoneNumber) -> CallerNumber:
    zones = tuple(z for z in number_timezone.time_zones_for_number(number) if z != _UNKNOWN_ZONE)
    country_code = number.country_code
    return CallerNumber(
        raw=raw,
        kind=NumberKind.VALID,
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(number),
        country_code=country_code,
        national=phonenumbers.national_significant_number(number),
        line_type=_LINE_TYPES.get(phonenumbers.number_type(number), LineType.UNKNOWN),
        timezones=zones,
    )


def country_allowed(number: CallerNumber, allowed: tuple[str, ...]) -> bool:
    """True when the number's region or ``+<calling code>`` is in ``allowed`` (or it has "*")."""
    if "*" in allowed:
        return True
    return number.region in allowed or f"+{number.country_code}" in allowed
