"""``[provider.vonage]`` (pure: no adapter code is loaded)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl, model_validator

from asterisk_textback.sms.settings._frozen import Frozen


class VonageSettings(Frozen):
    """``[provider.vonage]``: Messages API credentials (secrets by env var name) and endpoint."""

    #: ``jwt`` (application id + private key, recommended by Vonage) or ``basic``.
    auth: Literal["jwt", "basic"] = "jwt"
    application_id: str | None = None
    #: Environment variable holding the application's PEM private key.
    private_key_env: str | None = None
    api_key: str | None = None
    #: Environment variable holding the API secret (basic auth).
    api_secret_env: str | None = None
    #: Environment variable holding the signature secret that signs webhooks.
    signature_secret_env: str | None = None
    #: Refuse webhooks whose JWT carries no ``payload_hash`` claim.
    require_payload_hash: bool = True
    #: Oldest webhook JWT ``iat`` accepted, in seconds.
    webhook_max_age_seconds: float = Field(default=300.0, gt=0)
    api_base_url: HttpUrl = HttpUrl("https://api.nexmo.com")
    #: The Account API (balance), read by ``check`` to prove basic-auth credentials.
    account_api_base_url: HttpUrl = HttpUrl("https://rest.nexmo.com")
    jwt_ttl_seconds: int = Field(default=300, gt=0, le=86400)
    timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _credentials_named(self) -> VonageSettings:
        if self.auth == "jwt" and not (self.application_id and self.private_key_env):
            raise ValueError("provider.vonage: auth 'jwt' needs application_id and private_key_env")
        if self.auth == "basic" and not (self.api_key and self.api_secret_env):
            raise ValueError("provider.vonage: auth 'basic' needs api_key and api_secret_env")
        return self
