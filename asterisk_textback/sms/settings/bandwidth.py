"""``[provider.bandwidth]`` (pure: no adapter code is loaded)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl, model_validator

from asterisk_textback.sms.settings._frozen import Frozen


class BandwidthSettings(Frozen):
    """``[provider.bandwidth]``: account, application, credentials (by env var name)."""

    account_id: str = Field(min_length=1)
    application_id: str = Field(min_length=1)
    #: ``oauth`` (API credentials, client id/secret) or legacy ``basic`` (API user).
    auth: Literal["oauth", "basic"] = "oauth"
    client_id: str | None = None
    client_secret_env: str | None = None
    username: str | None = None
    password_env: str | None = None
    #: The basic-auth credentials set on the Bandwidth application for its callbacks.
    callback_username: str | None = None
    callback_password_env: str | None = None
    api_base_url: HttpUrl = HttpUrl("https://messaging.bandwidth.com")
    token_url: HttpUrl = HttpUrl("https://api.bandwidth.com/api/v1/oauth2/token")
    timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _credentials_named(self) -> BandwidthSettings:
        if self.auth == "oauth" and not (self.client_id and self.client_secret_env):
            raise ValueError("provider.bandwidth: auth 'oauth' needs client_id, client_secret_env")
        if self.auth == "basic" and not (self.username and self.password_env):
            raise ValueError("provider.bandwidth: auth 'basic' needs username and password_env")
        return self
