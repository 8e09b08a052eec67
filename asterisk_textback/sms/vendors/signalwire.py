"""SignalWire: the Twilio-compatible (LaML/cXML) Messages API under the business's own Space.

Sending is Twilio's dialect at ``https://{space}.signalwire.com/api/laml/2010-04-01/Accounts/
{ProjectID}/Messages.json`` with HTTP basic auth ``ProjectID:APIToken``
(https://developer.signalwire.com/compatibility-api/rest/create-a-message/).

Callbacks differ from Twilio in the key, not the formula: SignalWire signs with the project's
*Signing Key* (API Credentials page), not with the API token
(https://developer.signalwire.com/guides/webhook-security). The signature arrives in
``X-SignalWire-Signature`` and, for drop-in compatibility, ``X-Twilio-Signature``. SignalWire's
SDK validators accept two schemes, both HMAC-SHA1 with the Signing Key, so we do too:
base64 over URL + sorted form parameters (Twilio's, used for compatibility-API form callbacks),
and lower-case hex over URL + raw body (used for RELAY/SWML JSON callbacks).
"""

from __future__ import annotations

import hashlib
import hmac

import aiohttp
from pydantic import Field, HttpUrl

from asterisk_textback.sms.base import WebhookRequest
from asterisk_textback.sms.vendors.twilio import CompatProvider, CompatWebhook, Frozen, url_variants

SIGNATURE_HEADER = "X-SignalWire-Signature"


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


class SignalWireProvider(CompatProvider):
    """SignalWire messaging through its Twilio-compatible REST API."""

    name = "signalwire"
    credentials_fix = (
        "check provider.signalwire.space/project_id and the API token in api_token_env "
        "(it needs the Messaging scope)"
    )

    def __init__(
        self, settings: SignalWireSettings, session: aiohttp.ClientSession, api_token: str
    ) -> None:
        url = f"{settings.base_url()}/2010-04-01/Accounts/{settings.project_id}/Messages.json"
        super().__init__(
            session,
            messages_url=url,
            username=settings.project_id,
            password=api_token,
            timeout_seconds=settings.timeout_seconds,
            status_callback=(
                None if settings.status_callback_url is None else str(settings.status_callback_url)
            ),
            validity_period=settings.validity_period,
        )


def body_signature(key: str, url: str, body: bytes) -> str:
    """SignalWire's raw-body scheme: hex HMAC-SHA1 of the URL followed by the body."""
    return hmac.new(key.encode(), url.encode() + body, hashlib.sha1).hexdigest()


class SignalWireWebhook(CompatWebhook):
    """SignalWire callbacks, signed with the project's Signing Key."""

    name = "signalwire"
    signature_headers = (SIGNATURE_HEADER.lower(), "x-twilio-signature")

    def expected(self, request: WebhookRequest, params: list[tuple[str, str]]) -> list[str]:
        """Twilio's form scheme plus SignalWire's raw-body scheme, per URL spelling."""
        raw = [body_signature(self._key, url, request.body) for url in url_variants(request.url)]
        return super().expected(request, params) + raw
