"""``suppression.quiet_hours``: which texting windows apply, in the recipient's local time.

::

    [suppression]
    quiet_hours = "strict"     # default: federal 8 am–9 pm plus the stricter state's table
    # quiet_hours = "federal"  # 47 CFR 64.1200(c)(1) only (and Canada's CRTC hours)
    # quiet_hours = false      # off: texts go out whenever they are due

    # Or the business's own windows, e.g. per weekday; the law still applies on top
    # unless law = "none":
    [suppression.quiet_hours]
    law = "strict"                 # "strict" | "federal" | "none"
    daily = ["09:00-19:00"]        # every day not listed below
    sat = ["10:00-16:00"]
    sun = []                       # no texts on Sundays
    holidays = []                  # on US federal holidays: no texts (unset: an ordinary day)

Before issue 16 the setting was a quiet *range*, ``quiet_hours = "21:00-08:00"``; that still
loads and keeps its meaning (no text inside it, every day), now on top of the strict table:
it becomes ``{ daily = ["08:00-21:00"], law = "strict" }``. Write the table form with
``law = "none"`` for exactly the old behaviour.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from asterisk_textback.policy.timerange import TimeRange, TimeRangeField, parse_range

Law = Literal["strict", "federal", "none"]
DayWindows = tuple[TimeRangeField, ...] | None


class QuietHours(BaseModel):
    """The texting windows: the law's, the business's own, or both (the narrower wins)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: ``strict``: federal plus the recipient's state; ``federal``: national rules only.
    law: Law = "strict"
    #: The business's own windows on days not listed by name; None: no own windows.
    daily: DayWindows = None
    mon: DayWindows = None
    tue: DayWindows = None
    wed: DayWindows = None
    thu: DayWindows = None
    fri: DayWindows = None
    sat: DayWindows = None
    sun: DayWindows = None
    #: Own windows on US federal holidays (in the recipient's zone); None: an ordinary day.
    holidays: DayWindows = None
    #: The pre-issue-16 quiet range this was read from, kept for messages (not a key).
    _legacy: TimeRange | None = PrivateAttr(default=None)

    @classmethod
    def from_quiet_range(cls, quiet: TimeRange) -> QuietHours:
        """A legacy ``quiet_hours = "21:00-08:00"``: its complement daily, under the law."""
        made = cls(daily=(TimeRange(quiet.end % (24 * 60), quiet.start),))
        made._legacy = quiet
        return made

    @property
    def legacy(self) -> TimeRange | None:
        """The legacy quiet range this setting was written as, if it was."""
        return self._legacy

    @property
    def custom(self) -> bool:
        """True when the business set any windows of its own."""
        days = (self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun)
        return self.daily is not None or any(d is not None for d in days)

    def own_week(self) -> tuple[tuple[TimeRange, ...], ...]:
        """Own windows Monday to Sunday; a day with none set is open all day."""
        days = (self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun)
        every = self.daily if self.daily is not None else (TimeRange(0, 24 * 60),)
        return tuple(every if d is None else d for d in days)

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Dumped as it reads in the file: "strict", "21:00-08:00", or the table.
        if self.holidays is None and (self.legacy is not None or not self.custom):
            if self.legacy is not None and self.law == "strict":
                return str(self.legacy)
            if self.legacy is None:
                return self.law
        dumped: dict[str, Any] = handler(self)
        return {key: value for key, value in dumped.items() if value is not None}

    def __str__(self) -> str:
        """How the setting reads in messages: ``strict``, ``21:00-08:00``, ``custom``."""
        if self.legacy is not None:
            return str(self.legacy)
        return "custom windows" if self.custom else self.law


def parse_quiet_hours(value: Any) -> Any:
    """``"strict"`` (or ``true``), ``"federal"``, a legacy range, ``false``/``""``/``"off"``,
    or a table."""
    if value is None or value is False or value == "" or value == "off":
        return None
    if value is True:
        return QuietHours()
    if isinstance(value, str) and value.strip() in ("strict", "federal"):
        return QuietHours(law=value.strip())  # type: ignore[arg-type]
    if isinstance(value, str):
        try:
            quiet = parse_range(value)
        except PydanticCustomError:
            raise PydanticCustomError(
                "quiet_hours",
                '"{value}" is not a quiet-hours setting: use "strict", "federal", false, '
                'a quiet range such as "21:00-08:00", or a table of windows',
                {"value": value},
            ) from None
        return QuietHours.from_quiet_range(quiet)
    return value


#: A pydantic field type for ``quiet_hours``; None means off.
QuietHoursField = Annotated[QuietHours | None, BeforeValidator(parse_quiet_hours)]
