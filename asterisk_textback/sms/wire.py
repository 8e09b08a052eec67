"""How vendors spell numbers and times on the wire, read and written in one place."""

from __future__ import annotations

from datetime import UTC, datetime


def without_plus(e164: str) -> str:
    """E.164 without the leading ``+`` (Plivo, Vonage)."""
    return e164[1:] if e164.startswith("+") else e164


def with_plus(number: str) -> str:
    """A vendor's all-digit number back in E.164; anything else (alphanumeric) as it is."""
    return "+" + number if number.isdigit() else number


def epoch(value: object) -> float | None:
    """An ISO 8601 stamp (``Z`` or an offset; none means UTC) in epoch seconds, else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
