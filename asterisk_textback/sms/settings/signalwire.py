"""``[provider.signalwire]`` (pure: no adapter code is loaded)."""

from __future__ import annotations

from pydantic import Field, HttpUrl

from asterisk_textback.sms.settings._frozen import Frozen


class SignalWireSettings(Frozen):
    """``[provider.signalwire]``: the Space, the project and where callbacks go."""

    #: The Space name (``example`` or ``example.signalwire.com``).
    space: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*(\.signalwire\.com)?$")
    #: The Project ID (a UUID), the username of the API's basic auth.
    project_id: str = Field(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )
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

    def base_url(self) -> str:
        """The LaML API root, without a trailing slash."""
        if self.api_base_url is not None:
            return str(self.api_base_url).rstrip("/")
        host = (
            self.space if self.space.endswith(".signalwire.com") else f"{self.space}.signalwire.com"
        )
        return f"https://{host}/api/laml"
