"""The ``[provider]`` section: which adapter sends the texts, and its options."""

# Pure on purpose: ``config.py`` imports this package, so it loads only pydantic and the
# per-vendor settings modules beside it, never aiohttp or an adapter in ``sms/vendors/``
# (the registry imports an adapter only when its provider is built).

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl, model_validator

from asterisk_textback.sms.settings._frozen import Frozen as _Frozen
from asterisk_textback.sms.settings.bandwidth import BandwidthSettings
from asterisk_textback.sms.settings.plivo import PlivoSettings
from asterisk_textback.sms.settings.signalwire import SignalWireSettings
from asterisk_textback.sms.settings.telnyx import TelnyxSettings
from asterisk_textback.sms.settings.twilio import TwilioSettings
from asterisk_textback.sms.settings.vonage import VonageSettings

__all__ = [
    "BandwidthSettings",
    "LookupSettings",
    "PlivoSettings",
    "ProviderSettings",
    "SignalWireSettings",
    "SipTrunkSettings",
    "TelnyxSettings",
    "TwilioSettings",
    "VonageSettings",
    "WebhookSettings",
]


class WebhookSettings(_Frozen):
    """A generic HTTP endpoint that sends texts (your own gateway, n8n, Zapier, …)."""

    url: HttpUrl
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body_format: Literal["json", "form"] = "json"
    #: Name of an environment variable holding an HMAC-SHA256 key: signs the body in
    #: ``X-Textback-Signature: sha256=<hex>`` so the receiver can check it came from us.
    hmac_secret_env: str | None = None
    #: Key of the provider's message id in a JSON response (dots for nesting).
    id_field: str = "id"
    timeout_seconds: float = Field(default=10.0, gt=0)


class SipTrunkSettings(_Frozen):
    """``[provider.sip_trunk]``: how to address the carrier through the PJSIP trunk."""

    #: The PJSIP endpoint of the trunk (``[trunk]`` in pjsip.conf).
    endpoint: str = Field(min_length=1)
    #: The carrier's SIP host (``host`` or ``host:port``), e.g. ``sms.carrier.example:5060``:
    #: the MESSAGE is sent to ``sip:+1…@carrier_host`` through the endpoint, not to the
    #: trunk's contact or AOR.
    carrier_host: str = Field(min_length=1)
    #: Host part of the From URI (the PBX's domain or IP as the carrier knows it).
    from_host: str = Field(min_length=1)
    #: Send numbers as ``+E.164`` (most carriers) or without the plus.
    plus_prefix: bool = True


class LookupSettings(_Frozen):
    """``[provider.lookup]``: ask the provider for the line type before a first text."""

    enabled: bool = False
    #: A lookup result is trusted this long; then the number is looked up again.
    cache_days: float = Field(default=30.0, gt=0)
    #: Twilio only: Lookup v2's base URL (proxies, tests).
    twilio_api_base_url: HttpUrl = HttpUrl("https://lookups.twilio.com")


class ProviderSettings(_Frozen):
    """How texts leave: ``log`` (record only, the default) or a real adapter."""

    name: Literal[
        "log",
        "webhook",
        "sip_trunk",
        "twilio",
        "signalwire",
        "telnyx",
        "plivo",
        "vonage",
        "bandwidth",
    ] = "log"
    #: Sender number (E.164) when no DID-specific sender applies.
    default_sender: str = ""
    #: DID (as the PBX reports it) -> sender number, so replies land on the line called.
    senders: dict[str, str] = Field(default_factory=dict)
    #: Messages per second per sender number (carriers throttle long codes to about 1/s).
    rate_per_second: float = Field(default=1.0, gt=0)
    webhook: WebhookSettings | None = None
    sip_trunk: SipTrunkSettings | None = None
    twilio: TwilioSettings | None = None
    signalwire: SignalWireSettings | None = None
    telnyx: TelnyxSettings | None = None
    plivo: PlivoSettings | None = None
    vonage: VonageSettings | None = None
    bandwidth: BandwidthSettings | None = None
    lookup: LookupSettings = LookupSettings()

    @model_validator(mode="after")
    def _adapter_options_present(self) -> ProviderSettings:
        if self.lookup.enabled and self.name not in ("twilio", "telnyx"):
            raise ValueError(
                f"provider.lookup.enabled: provider {self.name!r} has no line-type lookup "
                "(Twilio and Telnyx do)"
            )
        if self.name != "log" and getattr(self, self.name, None) is None:
            raise ValueError(
                f"provider.name is {self.name!r} but there is no [provider.{self.name}]"
            )
        return self

    def sender_for(self, did: str) -> str:
        """The number to text from for a call to ``did``."""
        return self.senders.get(did, self.default_sender)
