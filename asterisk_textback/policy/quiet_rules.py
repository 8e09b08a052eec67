"""The legal texting windows: federal, Canadian, and the US states that are stricter.

Every window is in the recipient's local time and half-open: ``08:00-21:00`` allows 08:00
and 20:59 but not 21:00 (the statutes say "before 8 a.m. or after 9 p.m."; stopping at the
stroke of the hour is the safe reading). Sources, as checked for issue 16:

- **Federal**, 47 CFR § 64.1200(c)(1): no telephone solicitation "before the hour of 8 a.m.
  or after 9 p.m. (local time at the called party's location)". Applied to every number
  as the baseline, whatever its country.
- **Canada**, CRTC Unsolicited Telecommunications Rules, Part III (Telemarketing Rules):
  9:00 a.m.–9:30 p.m. on weekdays, 10:00 a.m.–6:00 p.m. on weekends (CRTC, "Key Unsolicited
  Telecommunications Rules"). Provincial extras are not encoded.
- **Florida**, Fla. Stat. § 501.616(6)(a): no "commercial telephone solicitation phone
  call before 8 a.m. or after 8 p.m. local time in the called person's time zone" (as
  amended by SB 1120, 2021); the Florida Telephone Solicitation Act, § 501.059, covers
  texts. No holiday rule.
- **Oklahoma**, Okla. Stat. tit. 15, § 775C.4 (Telephone Solicitation Act of 2022): 8 a.m.
  –8 p.m. at the called party's location. Checked against secondary sources only (the
  statute's text was not reachable). No holiday rule.
- **Maryland**, Md. Code, Com. Law § 14-4501 et seq. (Stop the Spam Calls Act of 2023, in
  force 2024-01-01): 8 a.m.–8 p.m. in the called party's time zone (per the Act's
  summaries; the hours section's own text was not reachable, § 14-4501's was). The issue cited
  § 14-3201, which is the Maryland Telephone Consumer Protection Act, not the hours.
- **Mississippi**, Miss. Code Ann. § 77-3-723(1): "between the hours of 8:00 a.m. and 8:00
  p.m. Central Standard Time. No telephone solicitations may be made on a Sunday." So no
  texts on Sundays (the issue's table missed it), and the hours are read both in Central
  *Standard* Time and in the recipient's clock (9 a.m.–8 p.m. CDT in summer). The PSC's
  legal-holiday ban (39 Miss. Admin. Code Pt. I, R. 1:28) was repealed when enforcement
  moved to the Attorney General (HB 1225, 2023), so holidays are ordinary days.
- **New Jersey**, N.J.S.A. 56:8-128(d): no unsolicited telemarketing sales call "between the
  hours of 9:00 p.m. and 8:00 a.m., local time, at the customer's location" — the federal
  window, not 8 a.m.–8 p.m. as the issue had it. Kept in the table so the decision names it.
- **Connecticut**, Conn. Gen. Stat. § 42-288a (as amended by P.A. 23-98, in force
  2023-10-01, which brought text messages in): 9 a.m.–8 p.m. local time at the consumer's
  location, every day. Checked against secondary compilations (the section's text was not
  reachable); § 42-288(c) presumes a Connecticut area code is in the state.
- **Texas**, Tex. Bus. & Com. Code § 301.051: 9 a.m.–9 p.m. on a weekday or Saturday,
  noon–9 p.m. on a Sunday. Checked against secondary compilations only.
- **Rhode Island**, R.I. Gen. Laws § 5-61-3.6 with the "hours of operation" of
  § 5-61-2(2): "Monday through Friday, except a state or federal holiday, 9:00 a.m. to
  6:00 p.m.; Saturday 10:00 a.m. to 5:00 p.m." — nothing on Sundays (the issue's "10 am–
  5 pm weekends" was wrong) and nothing on a weekday holiday. The issue cited § 5-61-3.5,
  which is the do-not-call list. Here no text goes out on any holiday (federal, or Victory
  Day), a Saturday one included, which is stricter than the statute and never wrong.

Other states with narrower hours or Sunday/holiday bans (e.g. Alabama, Louisiana,
Pennsylvania, Kentucky, Washington) are not in the issue's table and not encoded yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Final

from asterisk_textback.policy.holidays import rhode_island_holiday
from asterisk_textback.policy.timerange import TimeRange, parse_range

#: Names the holiday on a date, or None on an ordinary day.
HolidayCalendar = Callable[[date], str | None]
Windows = tuple[TimeRange, ...]
_DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class QuietRule:
    """When texts may go out under one rule: windows per weekday, holidays, a fixed zone."""

    #: ``federal``, ``Texas``, ``custom windows``...
    name: str
    #: The law it comes from (empty for the business's own windows).
    citation: str
    #: Allowed windows, Monday first; an empty tuple means no texts that day.
    week: tuple[Windows, ...]
    #: Days on which :attr:`holiday_windows` apply instead; None: holidays are ordinary days.
    holidays: HolidayCalendar | None = None
    holiday_windows: Windows = ()
    #: A fixed zone the rule is read in as well as the recipient's (Mississippi: CST),
    #: and how a person calls it.
    zone: str | None = None
    zone_label: str = ""

    def windows_on(self, day: date) -> Windows:
        """The allowed windows on ``day`` (a date in the zone the rule is read in)."""
        if self.holidays is not None and self.holidays(day) is not None:
            return self.holiday_windows
        return self.week[day.weekday()]

    @property
    def label(self) -> str:
        """``Texas (Tex. Bus. & Com. Code § 301.051)``."""
        return f"{self.name} ({self.citation})" if self.citation else self.name

    def describe(self, day: date) -> str:
        """The rule and its windows on ``day``: ``Texas (…) Sun 12:00-21:00``."""
        when = _DAY_NAMES[day.weekday()]
        holiday = None if self.holidays is None else self.holidays(day)
        if holiday is not None:
            when = f"{when} ({holiday})"
        windows = self.windows_on(day)
        hours = ", ".join(str(w) for w in windows) if windows else "no texts"
        zone = f" {self.zone_label}" if self.zone_label and windows else ""
        return f"{self.label} {when} {hours}{zone}"


def week(
    weekdays: str, saturday: str | None = None, sunday: str | None = None
) -> tuple[Windows, ...]:
    """A week of windows: ``weekdays`` Monday to Friday, then Saturday and Sunday.

    ``saturday`` and ``sunday`` default to the weekday window; ``""`` means no texts.
    """

    def day(value: str) -> Windows:
        return (parse_range(value),) if value else ()

    sat = weekdays if saturday is None else saturday
    sun = sat if sunday is None else sunday
    return (day(weekdays),) * 5 + (day(sat), day(sun))


FEDERAL: Final = QuietRule("federal", "47 CFR § 64.1200(c)(1)", week("08:00-21:00"))
CANADA: Final = QuietRule(
    "Canada",
    "CRTC Unsolicited Telecommunications Rules, Part III",
    week("09:00-21:30", "10:00-18:00"),
)
#: The stricter states, by postal code.
STATES: Final[dict[str, QuietRule]] = {
    "FL": QuietRule("Florida", "Fla. Stat. § 501.616(6)(a)", week("08:00-20:00")),
    "OK": QuietRule("Oklahoma", "Okla. Stat. tit. 15, § 775C.4", week("08:00-20:00")),
    "MD": QuietRule("Maryland", "Md. Code, Com. Law § 14-4501 et seq.", week("08:00-20:00")),
    "MS": QuietRule(
        "Mississippi",
        "Miss. Code Ann. § 77-3-723(1)",
        week("08:00-20:00", sunday=""),
        # "Central Standard Time": a fixed UTC-6 (tz database sign convention).
        zone="Etc/GMT+6",
        zone_label="CST",
    ),
    "NJ": QuietRule("New Jersey", "N.J.S.A. 56:8-128(d)", week("08:00-21:00")),
    "CT": QuietRule("Connecticut", "Conn. Gen. Stat. § 42-288a", week("09:00-20:00")),
    "TX": QuietRule(
        "Texas", "Tex. Bus. & Com. Code § 301.051", week("09:00-21:00", sunday="12:00-21:00")
    ),
    "RI": QuietRule(
        "Rhode Island",
        "R.I. Gen. Laws §§ 5-61-2(2), 5-61-3.6",
        week("09:00-18:00", "10:00-17:00", ""),
        holidays=rhode_island_holiday,
    ),
}
#: National rules stricter than :data:`FEDERAL`, by ISO region.
COUNTRIES: Final[dict[str, QuietRule]] = {"CA": CANADA}
