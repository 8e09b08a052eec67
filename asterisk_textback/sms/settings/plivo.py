"""``[provider.plivo]`` (pure: no adapter code is loaded)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl

from asterisk_textback.sms.settings._frozen import Frozen


class PlivoSettings(Frozen):
    """The ``[provider.plivo]`` section."""

    #: The account's Auth ID (an identifier in every API path, not a secret).
    auth_id: str = Field(min_length=1)
    #: Name of the environment variable holding the Auth Token (basic auth, webhook key).
    auth_token_env: str = "PLIVO_AUTH_TOKEN"
    #: Used only for texts without a sender number (Plivo takes ``src`` or a Powerpack).
    powerpack_uuid: str | None = None
    #: Status callback URL (``url``) and the method Plivo calls it with (``method``).
    status_url: HttpUrl | None = None
    status_method: Literal["POST", "GET"] = "POST"
    api_base_url: HttpUrl = HttpUrl("https://api.plivo.com")
    timeout_seconds: float = Field(default=10.0, gt=0)
