"""Build the configured provider adapter (one dict maps names to builders)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.errors import ConfigError
from asterisk_textback.sms.base import Provider, WebhookAdapter
from asterisk_textback.sms.lookup import LineInfo, LineLookup
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.sms.vendors.bandwidth import BandwidthProvider, BandwidthWebhook
from asterisk_textback.sms.vendors.log import LogProvider
from asterisk_textback.sms.vendors.lookup_twilio import TwilioLookup, TwilioLookupSettings
from asterisk_textback.sms.vendors.plivo import PlivoProvider, PlivoWebhook
from asterisk_textback.sms.vendors.signalwire import SignalWireProvider, SignalWireWebhook
from asterisk_textback.sms.vendors.sip_trunk import SipTrunkProvider
from asterisk_textback.sms.vendors.telnyx import TelnyxProvider, TelnyxWebhook
from asterisk_textback.sms.vendors.twilio import TwilioProvider, TwilioWebhook
from asterisk_textback.sms.vendors.vonage import VonageProvider, VonageWebhook
from asterisk_textback.sms.vendors.webhook import WebhookProvider


@dataclass(frozen=True, slots=True)
class Resources:
    """What adapters may share: the HTTP session, the environment, the AMI connection."""

    http: aiohttp.ClientSession
    environ: Mapping[str, str]
    ami: AmiConnection | None = None

    def secret(self, key: str, env_name: str | None) -> str:
        """The secret held in environment variable ``env_name`` (named by config ``key``)."""
        if not env_name:
            raise ConfigError(f"{key}: name the environment variable holding the secret")
        try:
            return self.environ[env_name]
        except KeyError:
            raise ConfigError(f"{key}: environment variable {env_name!r} is not set") from None


Builder = Callable[[ProviderSettings, Resources], Provider]

_T = TypeVar("_T")


def _section(value: _T | None, name: str) -> _T:
    if value is None:  # the settings validator already refuses this
        raise ConfigError(f"provider.{name}: missing [provider.{name}]")
    return value


def _log(settings: ProviderSettings, res: Resources) -> Provider:
    return LogProvider()


def _sip_trunk(settings: ProviderSettings, res: Resources) -> Provider:
    if settings.sip_trunk is None or res.ami is None:
        raise ConfigError("provider.sip_trunk: needs [provider.sip_trunk] and an AMI connection")
    return SipTrunkProvider(settings.sip_trunk, res.ami)


def _webhook(settings: ProviderSettings, res: Resources) -> Provider:
    hook = settings.webhook
    if hook is None:  # the settings validator already refuses this
        raise ConfigError("provider.webhook: missing")
    key = None
    if hook.hmac_secret_env:
        key = res.secret("provider.webhook.hmac_secret_env", hook.hmac_secret_env).encode()
    return WebhookProvider(hook, res.http, key)


def _twilio(settings: ProviderSettings, res: Resources) -> Provider:
    s = _section(settings.twilio, "twilio")
    return TwilioProvider(
        s, res.http, res.secret("provider.twilio.auth_token_env", s.auth_token_env)
    )


def _signalwire(settings: ProviderSettings, res: Resources) -> Provider:
    s = _section(settings.signalwire, "signalwire")
    token = res.secret("provider.signalwire.api_token_env", s.api_token_env)
    return SignalWireProvider(s, res.http, token)


def _telnyx(settings: ProviderSettings, res: Resources) -> Provider:
    s = _section(settings.telnyx, "telnyx")
    return TelnyxProvider(s, res.http, res.secret("provider.telnyx.api_key_env", s.api_key_env))


def _plivo(settings: ProviderSettings, res: Resources) -> Provider:
    s = _section(settings.plivo, "plivo")
    token = res.secret("provider.plivo.auth_token_env", s.auth_token_env)
    return PlivoProvider(s, res.http, token)


def _vonage(settings: ProviderSettings, res: Resources) -> Provider:
    s = _section(settings.vonage, "vonage")
    if s.auth == "jwt":
        key = res.secret("provider.vonage.private_key_env", s.private_key_env)
        return VonageProvider(s, res.http, private_key=key)
    secret = res.secret("provider.vonage.api_secret_env", s.api_secret_env)
    return VonageProvider(s, res.http, api_secret=secret)


def _bandwidth(settings: ProviderSettings, res: Resources) -> Provider:
    s = _section(settings.bandwidth, "bandwidth")
    env = s.client_secret_env if s.auth == "oauth" else s.password_env
    what = "client_secret_env" if s.auth == "oauth" else "password_env"
    return BandwidthProvider(s, res.http, secret=res.secret(f"provider.bandwidth.{what}", env))


BUILDERS: Mapping[str, Builder] = {
    "log": _log,
    "webhook": _webhook,
    "sip_trunk": _sip_trunk,
    "twilio": _twilio,
    "signalwire": _signalwire,
    "telnyx": _telnyx,
    "plivo": _plivo,
    "vonage": _vonage,
    "bandwidth": _bandwidth,
}


def build_lookup(settings: ProviderSettings, res: Resources) -> LineLookup | None:
    """The provider's line-type lookup when ``provider.lookup.enabled``, else None."""
    if not settings.lookup.enabled:
        return None
    if settings.name == "twilio":
        tw = _section(settings.twilio, "twilio")
        token = res.secret("provider.twilio.auth_token_env", tw.auth_token_env)
        where = TwilioLookupSettings(api_base_url=settings.lookup.twilio_api_base_url)
        client = TwilioLookup(where, res.http, tw.account_sid, token)

        async def twilio(e164: str) -> LineInfo:
            found = await client.line_type(e164)
            return LineInfo(found.line_type, found.sms_capable)

        return twilio
    provider = _telnyx(settings, res)
    assert isinstance(provider, TelnyxProvider)  # the settings validator allows only these two

    async def telnyx(e164: str) -> LineInfo:
        found = await provider.lookup(e164)
        return LineInfo(found.line_type, found.sms_capable)

    return telnyx


def build_webhooks(settings: ProviderSettings, res: Resources) -> dict[str, WebhookAdapter]:
    """The callback verifier/parser of the configured provider, by URL name."""
    name = settings.name
    if name == "twilio":
        s = _section(settings.twilio, name)
        return {name: TwilioWebhook(res.secret("provider.twilio.auth_token_env", s.auth_token_env))}
    if name == "signalwire":
        sw = _section(settings.signalwire, name)
        key = res.secret("provider.signalwire.signing_key_env", sw.signing_key_env)
        return {name: SignalWireWebhook(key)}
    if name == "telnyx":
        t = _section(settings.telnyx, name)
        if t.public_key is None:
            raise ConfigError("provider.telnyx.public_key: needed to verify Telnyx webhooks")
        return {name: TelnyxWebhook(t.public_key, t.webhook_tolerance_seconds)}
    if name == "plivo":
        p = _section(settings.plivo, name)
        return {name: PlivoWebhook(res.secret("provider.plivo.auth_token_env", p.auth_token_env))}
    if name == "vonage":
        v = _section(settings.vonage, name)
        secret = res.secret("provider.vonage.signature_secret_env", v.signature_secret_env)
        return {name: VonageWebhook(v, secret)}
    if name == "bandwidth":
        b = _section(settings.bandwidth, name)
        if not b.callback_username:
            raise ConfigError("provider.bandwidth.callback_username: needed to check callbacks")
        password = res.secret("provider.bandwidth.callback_password_env", b.callback_password_env)
        return {name: BandwidthWebhook(b.callback_username, password)}
    return {}


def build_provider(settings: ProviderSettings, resources: Resources) -> Provider:
    """The adapter named by ``provider.name``, sharing the session (and AMI connection)."""
    try:
        builder = BUILDERS[settings.name]
    except KeyError:
        raise ConfigError(f"provider.name: unknown provider {settings.name!r}") from None
    return builder(settings, resources)
