"""The expected message volume of a 10DLC campaign, from the last 30 days of history.

The registration forms ask how many texts a month the campaign sends. It is measured where
the service has a history (texts it queued in the last 30 days, from the database), else
estimated from the PBX's call log (``--cdr``: missed inbound calls with a number to text,
counted once per caller and day as the one-text-a-day cooldown does), else the kit says
there is no history and how to get one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final

from asterisk_textback.cdr.model import CdrDirection, CdrOutcome, ClassifiedCall
from asterisk_textback.errors import ConfigError

__all__ = ["WINDOW_DAYS", "Volume", "from_calls", "from_cdr_file", "from_texts", "no_history"]

WINDOW_DAYS: Final = 30
#: What to run for an estimate when there is no history.
HOW_TO_ESTIMATE: Final = (
    "run `asterisk-textback compliance kit -c FILE --cdr /var/log/asterisk/cdr-csv/Master.csv` "
    "to estimate it from your PBX's call log, or count your missed calls a month: one text each"
)


@dataclass(frozen=True, slots=True)
class Volume:
    """Texts a day and a month, where the figure comes from, and how it was reached."""

    #: ``database``, ``cdr`` or ``none``.
    source: str
    per_day: float | None
    per_month: int | None
    #: Days of history the figure rests on (at most 30).
    days: float
    #: Texts (or would-be texts) counted in those days.
    counted: int
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "source": self.source,
            "per_day": None if self.per_day is None else round(self.per_day, 2),
            "per_month": self.per_month,
            "days": round(self.days, 2),
            "counted": self.counted,
            "detail": self.detail,
        }

    @property
    def summary(self) -> str:
        """``about 12 texts a day, 360 a month`` or the no-history line."""
        if self.per_month is None or self.per_day is None:
            return f"no history: estimate N/month ({HOW_TO_ESTIMATE})"
        return f"about {self.per_day:,.1f} texts a day, {self.per_month:,} a month"


def _scaled(source: str, counted: int, days: float, detail: str) -> Volume:
    days = min(max(days, 1.0), float(WINDOW_DAYS))
    per_day = counted / days
    return Volume(source, per_day, math.ceil(per_day * WINDOW_DAYS), days, counted, detail)


def no_history() -> Volume:
    """The volume when neither the database nor a call log has anything."""
    return Volume("none", None, None, 0.0, 0, "no texts in the database and no call log given")


def from_texts(
    counted: int, first_at: datetime | None, now: datetime, *, textbacks: int, missed: int
) -> Volume | None:
    """From the database: ``counted`` texts queued in the last 30 days; None if there are none.

    A history shorter than 30 days (``first_at``: the first call or text ever recorded) is
    scaled up to a month.
    """
    if counted == 0 or first_at is None:
        return None
    days = min((now - first_at).total_seconds() / 86400, WINDOW_DAYS)
    detail = (
        f"{counted:,} texts queued in the last {max(days, 1):.0f} day(s) "
        f"({textbacks:,} text-backs for {missed:,} missed calls; the rest replies and "
        "keyword answers)"
    )
    return _scaled("database", counted, days, detail)


def from_calls(calls: Iterable[ClassifiedCall], zone: tzinfo) -> Volume | None:
    """From classified CDR/CEL calls: missed inbound calls with a number, once per caller a
    day, over the 30 days up to the last call in the log; None when it has none."""
    pairs: dict[date, set[str]] = {}
    last: datetime | None = None
    for call in calls:
        if call.direction is not CdrDirection.INBOUND:
            continue
        started = call.started_at
        last = started if last is None else max(last, started)
        if call.outcome is CdrOutcome.MISSED and call.textable:
            pairs.setdefault(started.astimezone(zone).date(), set()).add(call.caller)
    if last is None:
        return None
    start = last - timedelta(days=WINDOW_DAYS)
    first_day = start.astimezone(zone).date()
    days_seen = [d for d in pairs if d > first_day]
    counted = sum(len(pairs[d]) for d in days_seen)
    span = (last - start).total_seconds() / 86400
    if days_seen:
        earliest = min(days_seen)
        span = min(span, (last.astimezone(zone).date() - earliest).days + 1)
    detail = (
        f"{counted:,} missed inbound calls with a number (one per caller a day) in the "
        f"{WINDOW_DAYS} days up to the call log's last call, "
        f"{last.astimezone(zone):%Y-%m-%d}"
    )
    return _scaled("cdr", counted, span, detail)


def from_cdr_file(path: Path, zone: tzinfo, cdr_zone: tzinfo) -> Volume | None:
    """:func:`from_calls` over an Asterisk ``cdr_csv`` file; ConfigError when unreadable."""
    from asterisk_textback.cdr.history import iter_file_history

    try:
        return from_calls(iter_file_history(path, None, cdr_zone), zone)
    except OSError as exc:
        raise ConfigError(f"--cdr: cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--cdr: {path} is not an Asterisk CDR CSV file: {exc}") from None
