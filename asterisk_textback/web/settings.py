"""The ``[web]`` section: where the HTTP side listens, provider callbacks, the dashboard.

Pure pydantic, so that ``config.py`` combines it without importing aiohttp.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from asterisk_textback.web.console.settings import ConsoleSettings
from asterisk_textback.web.dashboard.settings import DashboardSettings
from asterisk_textback.web.networks import parse_networks

__all__ = ["WebSettings", "WebhookServerSettings"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebhookServerSettings(BaseModel):
    """``[web]`` settings for provider callbacks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The URL providers call, e.g. ``https://sms.example.com`` (or with a path prefix the
    #: proxy strips); signatures are checked against it plus the request's path and query.
    public_base_url: str | None = None
    #: Without ``public_base_url``: believe X-Forwarded-Proto/Host (only behind a proxy
    #: that sets them; otherwise anybody could choose the URL a signature is checked on).
    trust_forwarded_headers: bool = False
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)

    @field_validator("public_base_url")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http://)")
        return value.rstrip("/")


class WebSettings(_Frozen):
    """The HTTP side: /healthz and the providers' callbacks. Localhost by default."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8088, ge=0, le=65535)
    #: ``[web.webhooks]``: public URL (behind a reverse proxy), body size limit.
    webhooks: WebhookServerSettings = WebhookServerSettings()
    #: ``[web.dashboard]``: login, API token, cookies.
    dashboard: DashboardSettings = DashboardSettings()
    #: ``[web.console]``: the integrator's console over every tenant (off by default).
    console: ConsoleSettings = ConsoleSettings()
    #: Reverse proxies (addresses or CIDRs) whose X-Forwarded-For names the client, e.g.
    #: ``["127.0.0.1", "::1"]`` behind nginx on the same host; empty: the header is ignored.
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        parse_networks(value)
        return value
