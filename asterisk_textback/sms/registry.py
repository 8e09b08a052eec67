"""Build the configured provider adapter (one dict maps names to builders)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import aiohttp

from asterisk_textback.errors import ConfigError
from asterisk_textback.sms.base import Provider
from asterisk_textback.sms.log import LogProvider
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.sms.webhook import WebhookProvider

Builder = Callable[[ProviderSettings, aiohttp.ClientSession, Mapping[str, str]], Provider]


def _log(
    settings: ProviderSettings, http: aiohttp.ClientSession, env: Mapping[str, str]
) -> Provider:
    return LogProvider()


def _webhook(
    settings: ProviderSettings, http: aiohttp.ClientSession, env: Mapping[str, str]
) -> Provider:
    hook = settings.webhook
    if hook is None:  # the settings validator already refuses this
        raise ConfigError("provider.webhook: missing")
    key = None
    if hook.hmac_secret_env:
        try:
            key = env[hook.hmac_secret_env].encode()
        except KeyError:
            raise ConfigError(
                f"provider.webhook.hmac_secret_env: environment variable "
                f"{hook.hmac_secret_env!r} is not set"
            ) from None
    return WebhookProvider(hook, http, key)


BUILDERS: Mapping[str, Builder] = {"log": _log, "webhook": _webhook}


def build_provider(
    settings: ProviderSettings, http: aiohttp.ClientSession, environ: Mapping[str, str]
) -> Provider:
    """The adapter named by ``provider.name``, sharing ``http``."""
    try:
        builder = BUILDERS[settings.name]
    except KeyError:
        raise ConfigError(f"provider.name: unknown provider {settings.name!r}") from None
    return builder(settings, http, environ)
