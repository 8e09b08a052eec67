"""``[web.dashboard]``: who may log in, the API token's variable, cookie and session rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from asterisk_textback.web.dashboard.auth import parse_password_hash

__all__ = ["DashboardSettings"]


class DashboardSettings(BaseModel):
    """The dashboard's login, API token, session and rate-limit settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    username: str = Field(default="admin", min_length=1, max_length=64)
    #: ``scrypt$n$r$p$salt$hash`` from ``asterisk-textback web passwd``; None: nobody logs in.
    password_hash: str | None = None
    #: Environment variable holding the JSON API's Bearer token; unset: API by session only.
    api_token_env: str | None = "TEXTBACK_API_TOKEN"
    session_minutes: int = Field(default=12 * 60, ge=5, le=30 * 24 * 60)
    #: Secure cookies need HTTPS; set False only on a LAN served over plain HTTP.
    cookie_secure: bool = True
    #: Sessions kept in memory at most; the oldest is dropped beyond this.
    max_sessions: int = Field(default=256, ge=1, le=100_000)
    #: Failed logins allowed per client address within ``login_window_seconds``.
    login_attempts: int = Field(default=5, ge=1, le=1000)
    #: Failed logins allowed on the account from browsers it does not know (any address).
    login_account_attempts: int = Field(default=20, ge=1, le=10_000)
    login_window_seconds: int = Field(default=300, ge=1, le=86_400)
    #: Longest reporting period a page or the API computes (days; 1096 = three years).
    max_period_days: int = Field(default=1096, ge=1, le=36_600)
    #: Default reporting period of the pages (see ``kpi.periods.parse_period``).
    default_period: str = "30d"

    @field_validator("password_hash")
    @classmethod
    def _well_formed(cls, value: str | None) -> str | None:
        if value is not None:
            parse_password_hash(value)
        return value

    @property
    def session_lifetime(self) -> timedelta:
        """How long a login lasts."""
        return timedelta(minutes=self.session_minutes)

    def api_token(self, environ: Mapping[str, str]) -> str | None:
        """The Bearer token from ``environ`` (None when unset or empty)."""
        if self.api_token_env is None:
            return None
        return environ.get(self.api_token_env) or None
