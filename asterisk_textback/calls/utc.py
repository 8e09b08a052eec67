"""One way to turn stored or clock times into aware UTC datetimes (pure, no I/O).

The tracker and the policy count time in epoch seconds (``now`` is passed in); the database
speaks ``datetime``. SQLite hands back naive datetimes, and text from aggregates over a
UNION; every boundary converts through these two functions so none invents its own rule.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["aware", "utc"]


def utc(ts: float) -> datetime:
    """The aware UTC datetime of an epoch timestamp (the clocks' unit)."""
    return datetime.fromtimestamp(ts, tz=UTC)


def aware(value: datetime | str) -> datetime:
    """An aware UTC datetime from a stored value: naive means UTC, text is ISO 8601."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(moment, datetime) and moment.tzinfo is UTC:
        return moment  # what the column type returns: the hot path (rate windows)
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
