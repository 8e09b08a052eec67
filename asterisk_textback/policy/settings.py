"""Typed, frozen settings for ``[business]``, ``[[rules]]`` and ``[suppression]``.

::

    [business]
    name = "Acme Plumbing"
    timezone = "America/New_York"
    default_region = "US"
    hours = { mon = ["08:00-12:00", "13:00-17:30"], sat = ["09:00-13:00"] }
    holidays = [2026-12-25, 2027-01-01]
    booking_link = "https://acme.example/book"

    [[rules]]                      # ordered: the first rule that matches wins
    when = "after_hours"           # any time the business is closed
    template = "after_hours"

    [[rules]]
    did = ["5550300"]
    action = "suppress"
    label = "sales line: staff call back"

    [suppression]
    cooldown_hours = 24
    quiet_hours = "strict"         # or "federal", false, or a table of windows

Validation errors carry the TOML key path (``business.hours.mon[0]: "25:00-26:00" is not a
time range ...``) once the models sit in the top-level settings (``config._format_error``).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from asterisk_textback.calls.model import Reason
from asterisk_textback.errors import ConfigError
from asterisk_textback.policy.numbers import LineType
from asterisk_textback.policy.quiet_settings import QuietHours, QuietHoursField
from asterisk_textback.policy.timerange import TimeRange, TimeRangeField

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
#: Weekday names in ``date.weekday()`` order.
WEEKDAYS: Final[tuple[Weekday, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: Number types that cannot usefully receive a text, or cost the business to reach.
DEFAULT_BLOCKED_TYPES: Final[tuple[LineType, ...]] = (
    LineType.TOLL_FREE,
    LineType.PREMIUM_RATE,
    LineType.SHARED_COST,
    LineType.UAN,
    LineType.PERSONAL_NUMBER,
    LineType.PAGER,
    LineType.VOICEMAIL,
    # Only numbers phonenumbers knows to be landlines (e.g. UK 020, DE 030); US/CA numbers are
    # fixed_line_or_mobile and never blocked by this.
    LineType.FIXED_LINE,
)


def _one_or_many(value: Any) -> Any:
    # ``did = "5550100"`` reads better than a one-element list; both are accepted.
    return (value,) if isinstance(value, str) else value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return value


def _country(value: str) -> str:
    value = value.strip().upper()
    if value == "*":
        return value
    if value.startswith("+"):
        digits = value[1:]
        if digits.isdigit() and int(digits) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return value
    elif value in phonenumbers.SUPPORTED_REGIONS:
        return value
    raise PydanticCustomError(
        "country",
        '"{value}" is not a country: use an ISO region ("US", "GB"), a calling code ("+1") or "*"',
        {"value": value},
    )


Glob = Annotated[str, AfterValidator(_not_blank)]
Globs = Annotated[tuple[Glob, ...], BeforeValidator(_one_or_many)]
Country = Annotated[str, AfterValidator(_country)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WeeklyHours(_Frozen):
    """Opening hours per weekday; a range crossing midnight belongs to the day it starts."""

    mon: tuple[TimeRangeField, ...] = ()
    tue: tuple[TimeRangeField, ...] = ()
    wed: tuple[TimeRangeField, ...] = ()
    thu: tuple[TimeRangeField, ...] = ()
    fri: tuple[TimeRangeField, ...] = ()
    sat: tuple[TimeRangeField, ...] = ()
    sun: tuple[TimeRangeField, ...] = ()

    def on(self, weekday: int) -> tuple[TimeRange, ...]:
        """The ranges of ``weekday`` (0 = Monday, as ``date.weekday()``)."""
        ranges: tuple[TimeRange, ...] = getattr(self, WEEKDAYS[weekday])
        return ranges


class BusinessSettings(_Frozen):
    """The ``[business]`` section: who is texting, where, and when they are open."""

    name: str = Field(default="our office", min_length=1, max_length=80)
    #: IANA time zone of the business; business hours and holidays are read in it.
    timezone: str = "UTC"
    #: Region for caller numbers without a country code (ISO 3166, e.g. "US", "GB").
    default_region: str = "US"
    #: None: no schedule, the business counts as open except on holidays.
    hours: WeeklyHours | None = None
    #: Closed weekdays that route as ``weekend`` rather than ``after_hours``.
    weekend: tuple[Weekday, ...] = ("sat", "sun")
    #: Dates (in the business's time zone) when it is closed all day.
    holidays: tuple[date, ...] = ()
    booking_link: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone",
                '"{value}" is not an IANA time zone (e.g. "America/New_York", "Europe/London")',
                {"value": value},
            ) from None
        return value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise PydanticCustomError(
                "region", '"{value}" is not an ISO region code (e.g. "US", "GB")', {"value": value}
            )
        return value.upper()

    @field_validator("booking_link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise PydanticCustomError("url", "must start with https:// or http://")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The business's time zone (ZoneInfo caches instances, so this is cheap)."""
        return ZoneInfo(self.timezone)


class When(StrEnum):
    """When a rule applies, relative to the business's hours."""

    ANY = "any"
    BUSINESS_HOURS = "business_hours"
    #: Any time the business is closed: evenings, weekends and holidays alike.
    AFTER_HOURS = "after_hours"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"


MissedOutcome = Literal["missed_voicemail", "missed_no_voicemail"]
#: ``suppression.caller_verification``: which callers' verification results allow a text.
CallerVerificationMode = Literal["off", "not_failed", "passed"]


class RuleSettings(_Frozen):
    """One ``[[rules]]`` entry: what it matches, and the template to send or ``suppress``."""

    #: A label for reports and decisions; defaults to ``rules[<index>]``.
    name: str | None = None
    #: DIDs as the PBX reports them; globs (``"55501*"``); empty matches every DID.
    did: Globs = ()
    #: Queue or ring group names (globs); a rule with queues never matches a call without one.
    queue: Globs = ()
    outcome: Annotated[tuple[MissedOutcome, ...], BeforeValidator(_one_or_many)] = ()
    reason: Annotated[tuple[Reason, ...], BeforeValidator(_one_or_many)] = ()
    when: Annotated[tuple[When, ...], BeforeValidator(_one_or_many), Field(min_length=1)] = (
        When.ANY,
    )
    action: Literal["send", "suppress"] = "send"
    # Validated even when absent, so that a missing template is reported under its own key.
    template: str | None = Field(default=None, validate_default=True)
    #: Experiment name for variant assignment; None: the template's own.
    experiment: str | None = Field(default=None, min_length=1)
    #: Why a ``suppress`` rule exists ("sales line: staff call back"); recorded with it.
    label: str | None = None
    #: Overrides ``suppression.send_delay_seconds`` for calls this rule matches.
    send_delay_seconds: float | None = Field(default=None, ge=0, le=86_400)

    @field_validator("template")
    @classmethod
    def _template_matches_action(cls, value: str | None, info: ValidationInfo) -> str | None:
        action = info.data.get("action", "send")
        if action == "send" and not value:
            raise PydanticCustomError("missing", 'required when action = "send"')
        if action == "suppress" and value is not None:
            raise PydanticCustomError("extra", 'not allowed with action = "suppress"')
        return value

    def label_or(self, index: int) -> str:
        """The rule's name, or ``rules[<index>]``."""
        return self.name or f"rules[{index}]"


def _rule(**fields: Any) -> RuleSettings:
    return RuleSettings.model_validate(fields)


#: Used when the file has no ``[[rules]]``: one rule per built-in template.
DEFAULT_RULES: Final[tuple[RuleSettings, ...]] = (
    _rule(name="after hours", when="after_hours", template="after_hours"),
    _rule(name="voicemail left", outcome="missed_voicemail", template="missed_voicemail"),
    _rule(name="line busy", reason="busy", template="busy"),
    _rule(name="queue abandon", reason=["abandoned", "queue_timeout"], template="queue_abandon"),
    _rule(name="missed", template="missed_no_voicemail"),
)


class SuppressionSettings(_Frozen):
    """The ``[suppression]`` section: who is never texted, how often, and when."""

    #: ISO regions or calling codes ("+1") texted; "*" for all; None: the default region.
    allowed_countries: tuple[Country, ...] | None = None
    block_number_types: tuple[LineType, ...] = DEFAULT_BLOCKED_TYPES
    #: No second text to the same number (whatever DID it called) within this many hours.
    cooldown_hours: float = Field(default=24.0, ge=0, le=24 * 365)
    #: At most this many texts per number in any 24 hours. With the default 24 h cooldown a
    #: caller gets one text a day; the cap matters once the cooldown is shortened.
    daily_cap: int = Field(default=3, ge=1, le=100)
    #: SMS-pumping defence: texts queued per minute, in total and per number prefix; 0 = off.
    global_rate_per_minute: int = Field(default=60, ge=0)
    per_prefix_rate_per_minute: int = Field(default=10, ge=0)
    #: A text over a rate cap: ``wait`` for the next free slot (until ``max_age_minutes``
    #: after it was due, then it is dropped with the cap's reason), or ``drop`` it at once.
    over_cap: Literal["wait", "drop"] = "wait"
    #: Digits of the national number after the country code that make a prefix ("+1212").
    rate_prefix_digits: int = Field(default=3, ge=1, le=8)
    #: Caller hang-ups and IVR-only calls shorter than this (start to end) are misdials.
    misdial_min_seconds: float = Field(default=2.0, ge=0, le=600)
    #: Text callers who hung up in an IVR/announcement before any phone rang.
    text_ivr_only: bool = True
    #: When texts may go out in the recipient's local time (zone and state from their
    #: number): "strict" (federal plus state law), "federal", own windows, or off
    #: (:mod:`.quiet_settings`); a text due outside the window waits for it to open.
    quiet_hours: QuietHoursField = QuietHours()
    #: Never decide to text about a call older than this; the dispatcher gives up this long
    #: after a text's send time, which for a text held by quiet hours is the window's
    #: opening (the deferral is deliberate and does not count).
    max_age_minutes: float = Field(default=60.0, gt=0, le=7 * 24 * 60)
    send_delay_seconds: float = Field(default=0.0, ge=0, le=86_400)
    #: Caller ID verification (STIR/SHAKEN or the carrier's verstat, reported by the dialplan
    #: hook): ``not_failed`` never texts a caller whose caller ID failed verification (maybe
    #: spoofed: the text would go to a number that never called); ``passed`` texts only
    #: callers whose caller ID passed; ``off`` ignores it. Calls without the hook's report
    #: are texted except under ``passed``. See ``policy.decide.check_verification``.
    caller_verification: CallerVerificationMode = "not_failed"


class PolicyConfig(Protocol):
    """What :func:`~asterisk_textback.policy.decide.decide` reads; the app's Settings fits."""

    @property
    def business(self) -> BusinessSettings:
        """The ``[business]`` section."""

    @property
    def rules(self) -> tuple[RuleSettings, ...]:
        """The ``[[rules]]``, in order."""

    @property
    def suppression(self) -> SuppressionSettings:
        """The ``[suppression]`` section."""


class PolicySettings(_Frozen):
    """The three policy sections on their own (tests, tools, or embedding in Settings)."""

    business: BusinessSettings = BusinessSettings()
    rules: tuple[RuleSettings, ...] = DEFAULT_RULES
    suppression: SuppressionSettings = SuppressionSettings()

    @field_validator("rules")
    @classmethod
    def _some_rules(cls, value: tuple[RuleSettings, ...]) -> tuple[RuleSettings, ...]:
        # A validator rather than min_length, which pydantic also reports when an item fails.
        return check_rules(value)


def check_rules(rules: tuple[RuleSettings, ...]) -> tuple[RuleSettings, ...]:
    """Refuse an empty ``rules`` list (nothing would ever be texted); for Settings validators."""
    if not rules:
        raise PydanticCustomError(
            "no_rules", "at least one rule is needed (leave [[rules]] out for the defaults)"
        )
    return rules


def allowed_countries(settings: PolicyConfig) -> tuple[str, ...]:
    """The effective allow-list: the configured one, or the business's default region."""
    configured = settings.suppression.allowed_countries
    return configured if configured is not None else (settings.business.default_region,)


class TemplateNames(Protocol):
    """What knows the template names (the renderer): membership and the names in order."""

    def __contains__(self, template: object) -> bool:
        """True when a template of that name exists."""
        ...

    def names(self) -> tuple[str, ...]:
        """The template names, in configuration order."""
        ...


def check_templates(settings: PolicyConfig, templates: TemplateNames | Collection[str]) -> None:
    """Raise ConfigError naming ``rules[i].template`` for every rule whose template is unknown.

    The message lists the templates that exist (and the closest name, for a typo).
    """
    names = tuple(templates) if isinstance(templates, Collection) else templates.names()
    errors = [
        f"rules[{index}].template: {missing_template(rule.template, names)}"
        for index, rule in enumerate(settings.rules)
        if rule.template is not None and rule.template not in names
    ]
    if errors:
        raise ConfigError("; ".join(errors))


def missing_template(name: str, templates: Collection[str]) -> str:
    """``template 'welcom' not found; templates are: welcome, busy (did you mean 'welcome'?)``"""
    text = f"template {name!r} not found; templates are: {', '.join(templates) or 'none'}"
    close = difflib.get_close_matches(name, list(templates), n=1, cutoff=0.6)
    return f"{text} (did you mean {close[0]!r}?)" if close else text
