"""Typed, frozen settings loaded once from ``textback.toml`` (secrets from the environment).

Each section is defined in the ``settings.py`` of the package it configures (pure pydantic);
this module only combines them, checks what spans sections, and loads the file. Every
validation error names the offending key, e.g. ``pbx.port: Input should be a valid
integer`` or ``business.hours.mon[0]: "25:00-26:00" is not a time range``. Sections: pbx,
tracker, business, rules, suppression, templates, provider, consent, forwarding, database,
dispatch, web, kpi, agi, bookings, crm.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from asterisk_textback.agi.settings import AgiSettings
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.bookings.settings import BookingWebhookSettings
from asterisk_textback.calls.settings import TrackerSettings
from asterisk_textback.crm.settings import CrmSettings
from asterisk_textback.errors import ConfigError
from asterisk_textback.inbound.settings import ConsentSettings, ForwardingSettings
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.policy.decide import refuse_destination
from asterisk_textback.policy.settings import (
    DEFAULT_RULES,
    BusinessSettings,
    RuleSettings,
    SuppressionSettings,
    check_rules,
)
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.store.settings import DatabaseSettings
from asterisk_textback.templates.settings import TemplatesSettings
from asterisk_textback.web.settings import WebSettings


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Settings(_Frozen):
    """The whole configuration."""

    pbx: PbxSettings = PbxSettings()
    #: More PBXes watched by the same service (``[[pbxes]]``), each with its own name.
    pbxes: tuple[PbxSettings, ...] = ()
    tracker: TrackerSettings = TrackerSettings()
    business: BusinessSettings = BusinessSettings()
    rules: tuple[RuleSettings, ...] = DEFAULT_RULES
    suppression: SuppressionSettings = SuppressionSettings()
    templates: TemplatesSettings = TemplatesSettings()
    provider: ProviderSettings = ProviderSettings()
    consent: ConsentSettings = ConsentSettings()
    forwarding: ForwardingSettings = ForwardingSettings()
    database: DatabaseSettings = DatabaseSettings()
    dispatch: DispatchSettings = DispatchSettings()
    web: WebSettings = WebSettings()
    kpi: KpiSettings = KpiSettings()
    agi: AgiSettings = AgiSettings()
    bookings: BookingWebhookSettings = BookingWebhookSettings()
    crm: CrmSettings = CrmSettings()

    @field_validator("rules")
    @classmethod
    def _some_rules(cls, value: tuple[RuleSettings, ...]) -> tuple[RuleSettings, ...]:
        return check_rules(value)

    @model_validator(mode="after")
    def _distinct_pbx_names(self) -> Settings:
        names = [p.name for p in self.all_pbxes]
        for index, pbx in enumerate(self.pbxes):
            if names.count(pbx.name) > 1:
                raise ValueError(
                    f"pbxes[{index}].name: {pbx.name!r} is already used; every PBX needs its "
                    "own name (calls are tagged with it)"
                )
        return self

    @model_validator(mode="after")
    def _textable_staff_numbers(self) -> Settings:
        # A forward is a text like any other: the text-backs' destination checks apply.
        for index, number in enumerate(self.forwarding.sms_to):
            refused = refuse_destination(number, self)
            if refused is not None:
                raise ValueError(
                    f"forwarding.sms_to[{index}]: {number!r} may not be texted "
                    f"({refused[0]}: {refused[1]})"
                )
        return self

    @property
    def all_pbxes(self) -> tuple[PbxSettings, ...]:
        """``[pbx]`` first, then every ``[[pbxes]]``."""
        return (self.pbx, *self.pbxes)


def _format_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(
            f"[{part}]" if isinstance(part, int) else str(part) for part in err["loc"]
        ).replace(".[", "[")
        lines.append(f"{key}: {err['msg']}")
    return "; ".join(lines)


def settings_from_mapping(data: Mapping[str, Any]) -> Settings:
    """Validate a parsed TOML mapping into :class:`Settings`, naming the key on error."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc)) from None


def load_settings(path: str | os.PathLike[str] | None) -> Settings:
    """Load ``textback.toml`` (or the built-in defaults when ``path`` is None)."""
    if path is None:
        return Settings()
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return settings_from_mapping(data)
