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

from asterisk_textback.sms.base import WebhookRequest
from asterisk_textback.sms.resources import Resources, section
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.sms.settings.signalwire import SignalWireSettings
from asterisk_textback.sms.vendors.twilio import CompatProvider, CompatWebhook, url_variants

__all__ = [
    "SignalWireProvider",
    "SignalWireSettings",
    "SignalWireWebhook",
    "build",
    "build_webhook",
]

SIGNATURE_HEADER = "X-SignalWire-Signature"


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


def build(settings: ProviderSettings, res: Resources) -> SignalWireProvider:
    """The SignalWire adapter of ``[provider.signalwire]``."""
    s = section(settings.signalwire, "signalwire")
    token = res.secret("provider.signalwire.api_token_env", s.api_token_env)
    return SignalWireProvider(s, res.http, token)


def build_webhook(settings: ProviderSettings, res: Resources) -> SignalWireWebhook:
    """SignalWire's callback verifier, keyed with the project's Signing Key."""
    s = section(settings.signalwire, "signalwire")
    return SignalWireWebhook(res.secret("provider.signalwire.signing_key_env", s.signing_key_env))
