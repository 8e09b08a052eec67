"""Daily wall-clock ranges such as ``"08:00-12:00"`` or ``"22:00-02:00"`` (across midnight)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final

from pydantic import PlainSerializer, PlainValidator
from pydantic_core import PydanticCustomError

MINUTES_PER_DAY: Final = 24 * 60

# "8:00", "08:00" and "24:00" (the last only as an end); a hyphen or an en dash between.
_TIME = r"(\d{1,2}):(\d{2})"
_RANGE = re.compile(rf"^\s*{_TIME}\s*[-–]\s*{_TIME}\s*$")


def _minutes(hours: str, minutes: str, *, end: bool) -> int | None:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and (m != 0 or not end)):
        return None
    return h * 60 + m


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A daily interval [start, end) in minutes after local midnight; may cross midnight."""

    start: int
    end: int

    @property
    def crosses_midnight(self) -> bool:
        """True when the range ends on the next day (``"22:00-02:00"``)."""
        return self.end <= self.start

    def __str__(self) -> str:
        """The range as written in the config file, e.g. ``08:00-17:30``."""
        return f"{_fmt(self.start)}-{_fmt(self.end)}"

    def covers(self, seconds: float) -> bool:
        """True when ``seconds`` after midnight falls inside the range on its starting day."""
        if self.crosses_midnight:
            return seconds >= self.start * 60
        return self.start * 60 <= seconds < self.end * 60

    def spills_over(self, seconds: float) -> bool:
        """True when ``seconds`` after midnight is in the part carried over from yesterday."""
        return self.crosses_midnight and seconds < self.end * 60


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def seconds_of_day(local: datetime) -> float:
    """Seconds since local midnight of a wall-clock datetime."""
    return local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6


def parse_range(value: object) -> TimeRange:
    """Parse ``"HH:MM-HH:MM"``; a pydantic error quoting the value when it is not one."""
    if isinstance(value, TimeRange):
        return value
    match = _RANGE.match(value) if isinstance(value, str) else None
    start = end = None
    if match:
        start = _minutes(match[1], match[2], end=False)
        end = _minutes(match[3], match[4], end=True)
    if start is None or end is None or start == end:
        # "08:00-08:00" is either empty or all day; refuse rather than guess (all day is
        # written "00:00-24:00").
        raise PydanticCustomError(
            "time_range",
            '"{value}" is not a time range (HH:MM-HH:MM, e.g. "08:00-17:30" or "22:00-02:00")',
            {"value": value},
        )
    return TimeRange(start, end)


def _parse_optional(value: object) -> TimeRange | None:
    # TOML has no null: ``false`` or "" switch the feature off.
    if value is None or value is False or value == "":
        return None
    return parse_range(value)


def _serialize(value: TimeRange | None) -> str | None:
    return None if value is None else str(value)


#: A pydantic field type: ``"08:00-12:00"`` in the file, a :class:`TimeRange` in the model.
TimeRangeField = Annotated[TimeRange, PlainValidator(parse_range), PlainSerializer(str)]
#: As :data:`TimeRangeField`, where ``false`` or ``""`` means "none".
OptionalTimeRangeField = Annotated[
    TimeRange | None, PlainValidator(_parse_optional), PlainSerializer(_serialize)
]
