"""Typed, frozen settings loaded once from ``textback.toml`` (secrets from the environment).

Every validation error names the offending key, e.g. ``pbx.port: Input should be a valid
integer`` or ``business.hours.mon[0]: "25:00-26:00" is not a time range``. Sections: pbx,
tracker, business, rules, suppression, templates, provider, consent, forwarding, database,
dispatch, web, kpi, agi, bookings, crm.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from asterisk_textback.agi.settings import AgiSettings
from asterisk_textback.bookings.webhook import BookingWebhookSettings
from asterisk_textback.crm.hooks import CrmSettings
from asterisk_textback.errors import ConfigError
from asterisk_textback.inbound.consent import ConsentSettings
from asterisk_textback.inbound.forwarding import ForwardingSettings
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.policy.decide import refuse_destination
from asterisk_textback.policy.settings import (
    DEFAULT_RULES,
    BusinessSettings,
    RuleSettings,
    SuppressionSettings,
    check_rules,
)
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.templates.settings import TemplatesSettings
from asterisk_textback.web.clientaddr import parse_networks
from asterisk_textback.web.dashboard.settings import DashboardSettings
from asterisk_textback.web.webhooks import WebhookServerSettings

#: Contexts an inbound call from a carrier starts in: FreePBX trunks and plain-Asterisk habits.
DEFAULT_TRUNK_CONTEXTS: tuple[str, ...] = (
    "from-trunk*",
    "from-pstn*",
    "from-did-direct*",
    "ext-did*",
    "from-sip-external",
    "from-external*",
    "from-provider*",
    "incoming*",
    "inbound*",
)
#: Contexts the PBX's own phones start in (FreePBX and plain Asterisk).
DEFAULT_INTERNAL_CONTEXTS: tuple[str, ...] = (
    "from-internal*",
    "ext-local*",
    "from-queue*",
    "from-phones*",
    "phones*",
    "internal*",
    "default",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PbxSettings(_Frozen):
    """How to reach the Asterisk Manager Interface of one PBX."""

    name: str = "default"
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "textback"
    secret: str = ""
    #: Name of an environment variable holding the secret (keeps it out of the file).
    secret_env: str | None = None
    tls: bool = False
    tls_verify: bool = True
    tls_ca_file: str | None = None
    connect_timeout: float = Field(default=5.0, gt=0)
    ping_interval: float = Field(default=10.0, gt=0)
    ping_timeout: float = Field(default=5.0, gt=0)
    reconnect_min: float = Field(default=0.5, gt=0)
    reconnect_max: float = Field(default=30.0, gt=0)
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024)
    #: An event's ``Timestamp`` further than this from our clock (or not a number) is
    #: replaced by the time we read it: a PBX clock that lies cannot age or delay texts.
    max_clock_skew: float = Field(default=60.0, gt=0, le=86_400)
    #: Catch-up after an AMI outage: the PBX's cdr_csv file (readable by this service)…
    cdr_csv: str | None = None
    #: …or an environment variable holding a read-only URL of FreePBX's ``asteriskcdrdb``
    #: (``mysql+pymysql://textback:…@127.0.0.1/asteriskcdrdb``).
    cdr_db_url_env: str | None = None
    #: With ``cdr_csv``: the ``cel_custom`` CSV (sample column order, or a header line), when
    #: CEL is logged: it tells who answered and why a call was missed better than CDR.
    cel_csv: str | None = None
    #: Zone of the CDR's local times (cdr_csv without usegmtime, asteriskcdrdb).
    cdr_timezone: str = "UTC"
    #: A call up across an AMI outage that no answer or hook report decides waits this long
    #: for its CDR row (cdr.conf batch mode writes late) before it is recorded ``unknown``.
    cdr_wait_seconds: float = Field(default=300.0, ge=0, le=86_400)

    def resolved_secret(self, environ: Mapping[str, str]) -> str:
        """The AMI secret, from ``secret_env`` when set, else ``secret``."""
        if self.secret_env:
            try:
                return environ[self.secret_env]
            except KeyError:
                raise ConfigError(
                    f"pbx.secret_env: environment variable {self.secret_env!r} is not set"
                ) from None
        return self.secret


class TrackerSettings(_Frozen):
    """How calls are classified: which contexts mean trunk / phone, and memory bounds."""

    trunk_contexts: tuple[str, ...] = DEFAULT_TRUNK_CONTEXTS
    internal_contexts: tuple[str, ...] = DEFAULT_INTERNAL_CONTEXTS
    #: A call with no hangup after this many seconds is evicted (outcome ``unknown``).
    call_ttl_seconds: float = Field(default=6 * 3600.0, gt=0)
    #: Hard cap on calls followed at once; the oldest are evicted beyond it.
    max_open_calls: int = Field(default=50_000, ge=10)
    #: How many ended Linkedids/Uniqueids are remembered to ignore late events.
    remember_ended: int = Field(default=20_000, ge=10)

    @field_validator("trunk_contexts", "internal_contexts")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not c.strip() for c in value):
            raise ValueError("must be a non-empty list of context names or globs")
        return value


class DatabaseSettings(_Frozen):
    """Where calls, the outbox and contacts are stored."""

    #: SQLite file (the embedded default) or ``postgresql+asyncpg://user@host/db``.
    url: str = "sqlite+aiosqlite:///textback.db"
    #: Environment variable holding the password, merged into ``url`` (keeps it out of files).
    password_env: str | None = None


class DispatchSettings(_Frozen):
    """How the outbox is drained."""

    workers: int = Field(default=2, ge=1, le=64)
    batch_size: int = Field(default=20, ge=1, le=1000)
    #: Retry a transient failure after this many seconds, doubling up to ``retry_max``.
    retry_min_seconds: float = Field(default=5.0, gt=0)
    retry_max_seconds: float = Field(default=300.0, gt=0)
    #: How often the dispatcher looks for texts that became due (deferred or retried).
    poll_seconds: float = Field(default=1.0, gt=0)
    #: This instance's name in ``claimed_by`` (default: the host name). Instances sharing a
    #: PostgreSQL database need distinct names: on start each recovers only its own texts.
    instance: str | None = Field(default=None, min_length=1, max_length=40)
    #: A text claimed longer ago than this by an instance that never finished it is
    #: recovered by any instance (the other one died and did not come back).
    claim_lease_seconds: float = Field(default=600.0, gt=0)
    #: How often queued texts past their max age are expired.
    expire_every_seconds: float = Field(default=30.0, gt=0)


class WebSettings(_Frozen):
    """The HTTP side: /healthz and the providers' callbacks. Localhost by default."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8088, ge=0, le=65535)
    #: ``[web.webhooks]``: public URL (behind a reverse proxy), body size limit.
    webhooks: WebhookServerSettings = WebhookServerSettings()
    #: ``[web.dashboard]``: login, API token, cookies.
    dashboard: DashboardSettings = DashboardSettings()
    #: Reverse proxies (addresses or CIDRs) whose X-Forwarded-For names the client, e.g.
    #: ``["127.0.0.1", "::1"]`` behind nginx on the same host; empty: the header is ignored.
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        parse_networks(value)
        return value


class KpiConfig(_Frozen):
    """``[kpi]``: costs, the qualification rule, attribution and calculator inputs."""

    currency: str = Field(default="USD", min_length=3, max_length=3)
    sms_cost_per_segment: float = Field(default=0.0, ge=0)
    software_cost_per_month: float = Field(default=0.0, ge=0)
    labour_cost_per_month: float = Field(default=0.0, ge=0)
    qualified_min_chars: int = Field(default=20, ge=1)
    attribution_window_days: float = Field(default=14.0, gt=0)
    close_rate: float = Field(default=0.25, ge=0, le=1)
    close_rate_band: tuple[float, float] = (0.20, 0.35)
    average_order_value: float | None = Field(default=None, ge=0)
    min_sample_per_variant: int = Field(default=30, ge=1)

    @field_validator("close_rate_band")
    @classmethod
    def _band(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 <= low <= high <= 1:
            raise ValueError("must be [low, high] with 0 <= low <= high <= 1")
        return value

    def to_kpi_settings(self) -> KpiSettings:
        """The KPI module's own settings value."""
        return KpiSettings(
            currency=self.currency.upper(),
            sms_cost_per_segment=self.sms_cost_per_segment,
            software_cost_per_month=self.software_cost_per_month,
            labour_cost_per_month=self.labour_cost_per_month,
            qualified_min_chars=self.qualified_min_chars,
            attribution_window=timedelta(days=self.attribution_window_days),
            close_rate=self.close_rate,
            close_rate_band=self.close_rate_band,
            average_order_value=self.average_order_value,
            min_sample_per_variant=self.min_sample_per_variant,
        )


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
    kpi: KpiConfig = KpiConfig()
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
