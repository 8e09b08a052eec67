"""The variables a template sees, built from a ``CallEnded`` and the business's settings.

Caller ID names (CNAM) come from the network and are attacker-controlled: they are cleaned
(control and format characters removed, whitespace collapsed, length capped) and only ever
passed to templates as values, never compiled.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Final

from asterisk_textback.calls.model import CallEnded

MAX_NAME_CHARS: Final = 32
MAX_FIRST_NAME_CHARS: Final = 20

# Carrier placeholders and Asterisk defaults that are not anybody's name.
_GENERIC_NAMES: Final = frozenset(
    {
        "anonymous",
        "blocked",
        "caller",
        "cell phone",
        "cellular",
        "private",
        "private caller",
        "private name",
        "private number",
        "restricted",
        "toll free",
        "toll free call",
        "unavailable",
        "unknown",
        "unknown caller",
        "unknown name",
        "wireless caller",
    }
)
# US states and Canadian provinces: "CHICAGO IL" is CNAM for a place, not a person.
_REGION_CODES: Final = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY "
    "AB BC MB NB NL NS NT NU ON PE QC SK YT"
)
_REGIONS: Final = frozenset(_REGION_CODES.split())
_SPACES = re.compile(r"\s+")
# Letters, with inner apostrophes or hyphens ("O'Brien", "Mary-Jane"); no digits.
_NAME_TOKEN = re.compile(r"^[^\W\d_]{2,}(?:['-][^\W\d_]+)*$")


def clean_name(raw: str) -> str:
    """Make a caller ID name safe to print: no control characters, one-line, capped length."""
    text = unicodedata.normalize("NFC", raw)
    kept = []
    for ch in text:
        if ch.isspace():
            kept.append(" ")  # newlines and tabs would break the text's layout
        elif not unicodedata.category(ch).startswith("C"):
            # Category C*: controls, format characters (bidi overrides, zero-width), unassigned.
            kept.append(ch)
    text = _SPACES.sub(" ", "".join(kept)).strip().strip("<>\"'").strip()
    if not text or text.casefold() in _GENERIC_NAMES or not any(ch.isalpha() for ch in text):
        return ""
    return text[:MAX_NAME_CHARS].rstrip()


def first_name(name: str) -> str:
    """A caller's first name from a caller ID name, or ``""`` when it does not look like one."""
    name = clean_name(name)
    if not name:
        return ""
    upper = name.isupper()
    if "," in name:  # Carrier CNAM is often "LAST,FIRST" or "Last, First M".
        name = name.split(",", 1)[1]
    tokens = name.split()
    if not tokens:
        return ""
    if upper and len(tokens) >= 2 and tokens[-1] in _REGIONS:
        return ""  # "CHICAGO IL", "SAN JOSE CA": a place
    first = tokens[0]
    if not _NAME_TOKEN.match(first) or len(first) > MAX_FIRST_NAME_CHARS:
        return ""
    if upper or first.islower():
        first = "-".join(part.capitalize() for part in first.split("-"))
    return first


@dataclass(frozen=True, slots=True)
class MessageContext:
    """Everything a template may print; only what the caller already knows about the call."""

    caller_name: str
    caller_number: str
    business_name: str
    did: str
    booking_link: str
    outcome: str
    reason: str
    #: When the call ended, in the business's timezone.
    call_time: datetime

    def variables(self) -> dict[str, Any]:
        """The template namespace: each field plus ``first_name`` and call time helpers."""
        name = clean_name(self.caller_name)
        return {
            "caller_name": name,
            "first_name": first_name(name),
            "caller_number": self.caller_number,
            "business_name": self.business_name,
            "did": self.did,
            "booking_link": self.booking_link,
            "outcome": self.outcome,
            "reason": self.reason,
            "call_time": self.call_time,
            "call_clock": _clock(self.call_time),
            "call_day": self.call_time.strftime("%A"),
        }


def _clock(when: datetime) -> str:
    hour = when.hour % 12 or 12
    return f"{hour}:{when.minute:02d} {'AM' if when.hour < 12 else 'PM'}"


def context_from_call(
    call: CallEnded, *, business_name: str, booking_link: str, tz: tzinfo
) -> MessageContext:
    """Build the template context for ``call``; times are shown in the business's ``tz``."""
    return MessageContext(
        caller_name=clean_name(call.caller_name),
        caller_number=call.caller_number,
        business_name=business_name,
        did=call.did,
        booking_link=booking_link,
        outcome=str(call.outcome),
        reason=str(call.reason),
        call_time=datetime.fromtimestamp(call.ended_at, tz=tz),
    )


def sample_context(
    *,
    business_name: str = "Acme Plumbing",
    booking_link: str = "https://example.com/book",
    tz: tzinfo = UTC,
    caller_name: str = "Jordan Smith",
) -> MessageContext:
    """Realistic, fixed sample data for validating and previewing templates."""
    return MessageContext(
        caller_name=caller_name,
        caller_number="+12025550143",
        business_name=business_name,
        did="+12025550100",
        booking_link=booking_link,
        outcome="missed_no_voicemail",
        reason="no_answer",
        call_time=datetime(2024, 6, 3, 18, 5, tzinfo=UTC).astimezone(tz),
    )
