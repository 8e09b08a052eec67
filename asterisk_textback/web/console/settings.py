"""``[web.console]``: the integrator's login, API token variable and session length."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ConsoleSettings"]


class ConsoleSettings(BaseModel):
    """The console at ``/console/``: off unless enabled; one super-admin account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    username: str = Field(default="integrator", min_length=1, max_length=64)
    #: ``scrypt$n$r$p$salt$hash`` from ``asterisk-textback web passwd``; None: nobody logs in.
    password_hash: str | None = None
    #: Environment variable holding ``/console/api/tenants``'s Bearer token; unset: login only.
    api_token_env: str | None = "TEXTBACK_CONSOLE_TOKEN"
    session_minutes: int = Field(default=60, ge=5, le=7 * 24 * 60)
    #: Secure cookies need HTTPS; set False only on a LAN served over plain HTTP.
    cookie_secure: bool = True

    @field_validator("password_hash")
    @classmethod
    def _well_formed(cls, value: str | None) -> str | None:
        if value is not None:
            # The dashboard's format, checked by its parser (stdlib only); imported here so
            # that this settings module names nothing outside its own package.
            from asterisk_textback.web.dashboard.auth import parse_password_hash

            parse_password_hash(value)
        return value

    @property
    def session_lifetime(self) -> timedelta:
        """How long a console login lasts."""
        return timedelta(minutes=self.session_minutes)

    def api_token(self, environ: Mapping[str, str]) -> str | None:
        """The Bearer token from ``environ`` (None when unset or empty)."""
        if self.api_token_env is None:
            return None
        return environ.get(self.api_token_env) or None
