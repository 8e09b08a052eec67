"""When a text may go out: the first moment every applicable texting window is open.

The rules that apply to a recipient (:func:`rules_for`) are the federal baseline, their
country's national rule (Canada), their state's rule under ``"strict"``, and the
business's own windows. A moment is allowed when it is inside a window of every rule, in
every time zone the number may be in (a number whose zone is ambiguous, e.g. North
Dakota's Mountain/Central 701, waits until the window is open in all of them; Mississippi's
rule is read in Central Standard Time as well). As in :mod:`.hours`, windows are local
wall-clock times turned into epoch seconds day by day, so 08:00 is 08:00 on the days the
clocks change too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from asterisk_textback.policy.holidays import us_federal_holiday
from asterisk_textback.policy.hours import MAX_ZONE_SPREAD
from asterisk_textback.policy.quiet_rules import COUNTRIES, FEDERAL, STATES, QuietRule
from asterisk_textback.policy.quiet_settings import QuietHours
from asterisk_textback.policy.recipient_place import Place
from asterisk_textback.policy.timerange import MINUTES_PER_DAY, seconds_of_day

#: How far ahead the windows are searched (a Sunday ban plus a Monday holiday, and more).
HORIZON: Final = 8 * 86400.0


def rules_for(setting: QuietHours, place: Place) -> tuple[QuietRule, ...]:
    """The rules for a recipient at ``place``: the law's (per ``setting.law``), then own."""
    rules: list[QuietRule] = []
    if setting.law != "none":
        rules.append(FEDERAL)
        national = COUNTRIES.get(place.country or "")
        if national is not None:
            rules.append(national)
        state = STATES.get(place.subdivision or "") if place.country == "US" else None
        if setting.law == "strict" and state is not None:
            rules.append(state)
    if setting.custom or setting.holidays is not None:
        name = f"quiet hours {setting.legacy}" if setting.legacy is not None else "custom windows"
        holidays = setting.holidays
        rules.append(
            QuietRule(
                f"{name} (suppression.quiet_hours)",
                "",
                setting.own_week(),
                holidays=None if holidays is None else us_federal_holiday,
                holiday_windows=() if holidays is None else holidays,
            )
        )
    return tuple(rules)


@dataclass(frozen=True, slots=True)
class Verdict:
    """When the text may go out, and why then."""

    #: None when no window opens within :data:`HORIZON` (the text is not sent).
    send_at: float | None
    #: True when the windows moved it later than it was due.
    deferred: bool
    #: Every rule that applied: ``Texas (Tex. Bus. & Com. Code § 301.051), federal (…)``.
    applied: str
    #: For a deferral: the rule that held it and until when, for people to read.
    detail: str = ""


def _walls(day: date, minutes: int, zone: ZoneInfo) -> tuple[float, float]:
    """Both readings of a wall-clock time: they differ only inside the autumn's repeated
    hour; a time inside the spring gap resolves with the old offset, just after the jump."""
    day += timedelta(days=minutes // MINUTES_PER_DAY)
    minutes %= MINUTES_PER_DAY
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return wall.timestamp(), wall.replace(fold=1).timestamp()


def is_allowed(rule: QuietRule, zone: ZoneInfo, at: float) -> bool:
    """True when epoch ``at`` is inside one of ``rule``'s windows in ``zone``."""
    local = datetime.fromtimestamp(at, zone)
    seconds = seconds_of_day(local)
    today = local.date()
    if any(w.covers(seconds) for w in rule.windows_on(today)):
        return True
    return any(w.spills_over(seconds) for w in rule.windows_on(today - timedelta(days=1)))


def next_allowed(rule: QuietRule, zone: ZoneInfo, at: float) -> float | None:
    """The first moment at or after ``at`` inside a window of ``rule`` in ``zone``."""
    if is_allowed(rule, zone, at):
        return at
    today = datetime.fromtimestamp(at, zone).date()
    starts = [
        start
        for offset in range(-1, int(HORIZON // 86400) + 1)
        for w in rule.windows_on(today + timedelta(days=offset))
        for start in _walls(today + timedelta(days=offset), w.start, zone)
        if start > at
    ]
    return min(starts, default=None)


def _offset(zone: ZoneInfo, at: float) -> float:
    offset = datetime.fromtimestamp(at, zone).utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def _pairs(
    rules: Sequence[QuietRule], zones: Sequence[ZoneInfo]
) -> list[tuple[QuietRule, ZoneInfo]]:
    pairs = [(rule, zone) for rule in rules for zone in zones]
    pairs += [(rule, ZoneInfo(rule.zone)) for rule in rules if rule.zone is not None]
    return pairs


def _search(
    pairs: Sequence[tuple[QuietRule, ZoneInfo]], at: float
) -> tuple[float, tuple[QuietRule, ZoneInfo] | None] | None:
    when, holder = at, None
    # Each pass moves ``when`` to the next opening of a rule that is closed; a rule that
    # is open stays put, so the first pass where nothing moves has them all open.
    for _ in range(16 * len(pairs) + 4):
        moved = False
        for pair in pairs:
            nxt = next_allowed(*pair, when)
            if nxt is None or nxt - at > HORIZON:
                return None
            if nxt > when:
                when, holder, moved = nxt, pair, True
        if not moved:
            return when, holder
    return None


def next_window(rules: Sequence[QuietRule], zones: Sequence[ZoneInfo], at: float) -> Verdict:
    """The first moment at or after ``at`` allowed by every rule in every zone.

    Zones further apart than :data:`~.hours.MAX_ZONE_SPREAD` say nothing about where the
    number is (toll-free numbers list every zone of +1): only the first zone counts then;
    likewise when the zones share no window within :data:`HORIZON`.
    """
    applied = ", ".join(rule.label for rule in reversed(rules))
    if not rules or not zones:
        return Verdict(at, False, applied)
    offsets = [_offset(zone, at) for zone in zones]
    if max(offsets) - min(offsets) > MAX_ZONE_SPREAD:
        zones = zones[:1]
    found = _search(_pairs(rules, zones), at)
    if found is None and len(zones) > 1:
        found = _search(_pairs(rules, zones[:1]), at)
    if found is None:
        # Own windows that never meet the law's (e.g. Sundays only, for a Rhode Island
        # number): holding the text for a week would not make it welcome.
        return Verdict(None, False, applied, f"no texting window within 8 days under {applied}")
    when, holder = found
    if holder is None:
        return Verdict(at, False, applied)
    rule, zone = holder
    day = datetime.fromtimestamp(when, zone).date()
    # Shown on the recipient's clock (Mississippi's rule is read in CST, too).
    shown = datetime.fromtimestamp(when, zones[0])
    # "Sun Dec 6 12:00 CST": on one line in logs (the pages say it in the business's words).
    detail = (
        f"quiet hours: {rule.describe(day)}; deferred to {shown:%a %b} {shown.day} {shown:%H:%M %Z}"
    )
    return Verdict(when, True, applied, detail)
