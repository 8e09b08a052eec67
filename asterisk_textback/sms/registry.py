"""Build the configured provider adapter (one dict maps names to builders)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.errors import ConfigError
from asterisk_textback.sms.base import Provider
from asterisk_textback.sms.log import LogProvider
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.sms.sip_trunk import SipTrunkProvider
from asterisk_textback.sms.webhook import WebhookProvider


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


BUILDERS: Mapping[str, Builder] = {"log": _log, "webhook": _webhook, "sip_trunk": _sip_trunk}


def build_provider(settings: ProviderSettings, resources: Resources) -> Provider:
    """The adapter named by ``provider.name``, sharing the session (and AMI connection)."""
    try:
        builder = BUILDERS[settings.name]
    except KeyError:
        raise ConfigError(f"provider.name: unknown provider {settings.name!r}") from None
    return builder(settings, resources)
