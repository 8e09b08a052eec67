"""``[provider.signalwire]`` (pure: no adapter code is loaded)."""

from __future__ import annotations

import re
from typing import Final

from pydantic import Field, HttpUrl, field_validator

from asterisk_textback.sms.settings._frozen import Frozen

_SPACE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*(\.signalwire\.com)?")
_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


class SignalWireSettings(Frozen):
    """``[provider.signalwire]``: the Space, the project and where callbacks go."""

    #: The Space name (``example`` or ``example.signalwire.com``).
    space: str
    #: The Project ID (a UUID), the username of the API's basic auth.
    project_id: str
    #: Name of the environment variable holding the API token (needs the Messaging scope).
    api_token_env: str = "SIGNALWIRE_API_TOKEN"
    #: Name of the environment variable holding the project's Signing Key (for webhooks).
    signing_key_env: str = "SIGNALWIRE_SIGNING_KEY"
    #: Public URL of our status webhook.
    status_callback_url: HttpUrl | None = None
    #: Seconds SignalWire may queue the text before cancelling it.
    validity_period: int | None = Field(default=None, ge=1, le=36000)
    #: Overrides ``https://{space}.signalwire.com/api/laml`` (proxies, tests).
    api_base_url: HttpUrl | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("space")
    @classmethod
    def _space(cls, value: str) -> str:
        if not _SPACE.fullmatch(value):
            raise ValueError(
                "must be your Space name, e.g. 'example' or 'example.signalwire.com' (letters, "
                "digits and '-'; it is the first part of your SignalWire dashboard's address)"
            )
        return value

    @field_validator("project_id")
    @classmethod
    def _project(cls, value: str) -> str:
        if not _UUID.fullmatch(value):
            raise ValueError(
                "must be the Project ID: 32 hex digits in groups of 8-4-4-4-12 with '-' between, "
                "e.g. 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 (it is on the dashboard's API page)"
            )
        return value

    def base_url(self) -> str:
        """The LaML API root, without a trailing slash."""
        if self.api_base_url is not None:
            return str(self.api_base_url).rstrip("/")
        host = (
            self.space if self.space.endswith(".signalwire.com") else f"{self.space}.signalwire.com"
        )
        return f"https://{host}/api/laml"
