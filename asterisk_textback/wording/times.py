"""Times as people read them, in the business's time zone (pure: no I/O).

Pages, CSV files and the texts and emails sent to staff all go through here, so an owner in
New York reads ``Sat, Dec 5, 2026, 7:49 AM EST`` everywhere instead of a UTC ISO stamp. The
API keeps ISO 8601 with its offset: programs read that, people read this.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

__all__ = ["csv_time", "day_label", "local", "people_time", "short_time"]


def local(at: datetime, zone: tzinfo) -> datetime:
    """``at`` in ``zone``; a naive value is taken as UTC (the store keeps UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone)


def _clock(at: datetime) -> str:
    hour = at.hour % 12 or 12
    return f"{hour}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"


def people_time(at: datetime | None, zone: tzinfo) -> str:
    """``Sat, Dec 5, 2026, 7:49 AM EST``; empty for no time."""
    if at is None:
        return ""
    here = local(at, zone)
    abbrev = here.tzname() or ""
    return f"{here:%a, %b} {here.day}, {here.year}, {_clock(here)} {abbrev}".rstrip()


def short_time(at: datetime | None, zone: tzinfo) -> str:
    """``Dec 5, 7:49 AM``: for lists and texts to staff, where the year is plain."""
    if at is None:
        return ""
    here = local(at, zone)
    return f"{here:%b} {here.day}, {_clock(here)}"


def csv_time(at: datetime | None, zone: tzinfo) -> str:
    """``2026-12-05 07:49:02``, local to ``zone``: sorts as text and opens in spreadsheets."""
    if at is None:
        return ""
    return local(at, zone).strftime("%Y-%m-%d %H:%M:%S")


def day_label(day: date) -> str:
    """``Sat, Dec 5``: a chart's or a table's day."""
    return f"{day:%a, %b} {day.day}"
