"""Build the configured provider adapter: one line per provider, imported only when built.

Adding a provider takes one new module and one line here:

1. ``sms/vendors/<name>.py`` holds the adapter: its payloads, its response models, its code
   table and its :class:`~asterisk_textback.sms._http.Dialect` (everything else is the one
   HTTP path in ``sms/_http.py``), plus ``build(settings, resources)``, and
   ``build_webhook`` when the provider calls us back;
2. one :class:`Entry` in :data:`PROVIDERS` below.

Its settings class goes in ``sms/settings/<name>.py`` (pydantic only: ``config.py`` loads
it, and must not load aiohttp or an adapter), with a field and a name on
:class:`~asterisk_textback.sms.settings.ProviderSettings`.

The entries are ``"module:attribute"`` strings, not imports, so that reading the config,
``--help`` or a test of the tracker never loads vendor code: an adapter's module is
imported when its provider is built, and only that one.

The package: the send side reads ``outbox → dispatcher → SwappableProvider → adapter →
vendor API``.

- ``base.py`` — the value types (:class:`~.base.OutboundSms`, :class:`~.base.SendResult`,
  delivery reports, inbound texts) and the ``Provider``/``WebhookAdapter`` Protocols;
- ``_http.py`` — the one HTTP path: :class:`~._http.Client` makes every call (timeout,
  connector errors), and one classifier maps every answer (408/429/5xx transient with
  ``Retry-After``, the vendor's code table, 401/403 auth, the vendor's own 402, …);
- ``vendors/`` — one module per provider, holding only its payloads, its pydantic response
  and callback models, its code table and its ``Dialect``;
- ``settings/`` — the ``[provider]`` section, one pure pydantic module per vendor, so that
  reading the config loads no aiohttp and no adapter;
- ``registry.py`` — provider name → ``"module:attribute"`` of its builders, imported only
  when that provider is built;
- ``swap.py`` (SIGHUP reload without dropping a request), ``lookup.py`` (line type before a
  first text), ``wire.py`` (how vendors spell numbers and times).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from asterisk_textback.errors import ConfigError
from asterisk_textback.sms.base import Provider, WebhookAdapter
from asterisk_textback.sms.lookup import LineLookup
from asterisk_textback.sms.resources import Resources
from asterisk_textback.sms.settings import ProviderSettings

__all__ = [
    "PROVIDERS",
    "Entry",
    "Resources",
    "build_lookup",
    "build_provider",
    "build_webhooks",
]


@dataclass(frozen=True, slots=True)
class Entry:
    """Where one provider's builders live, as ``"module:attribute"``."""

    provider: str
    #: Its callback verifier/parser, when the provider calls us back.
    webhook: str | None = None
    #: Its line-type lookup, when it has one.
    lookup: str | None = None


_V = "asterisk_textback.sms.vendors."

#: Provider name (``provider.name``) -> its builders.
PROVIDERS: Mapping[str, Entry] = {
    "log": Entry(_V + "log:build"),
    "webhook": Entry(_V + "webhook:build"),
    "sip_trunk": Entry(_V + "sip_trunk:build"),
    "twilio": Entry(_V + "twilio:build", _V + "twilio:build_webhook", _V + "lookup_twilio:build"),
    "signalwire": Entry(_V + "signalwire:build", _V + "signalwire:build_webhook"),
    "telnyx": Entry(_V + "telnyx:build", _V + "telnyx:build_webhook", _V + "telnyx:build_lookup"),
    "plivo": Entry(_V + "plivo:build", _V + "plivo:build_webhook"),
    "vonage": Entry(_V + "vonage:build", _V + "vonage:build_webhook"),
    "bandwidth": Entry(_V + "bandwidth:build", _V + "bandwidth:build_webhook"),
}


def _entry(settings: ProviderSettings) -> Entry:
    try:
        return PROVIDERS[settings.name]
    except KeyError:
        raise ConfigError(f"provider.name: unknown provider {settings.name!r}") from None


def _load(ref: str) -> Callable[[ProviderSettings, Resources], Any]:
    """Import the module named in ``ref`` (now, not before) and return its builder."""
    module, _, attr = ref.partition(":")
    return cast(
        Callable[[ProviderSettings, Resources], Any], getattr(importlib.import_module(module), attr)
    )


def build_provider(settings: ProviderSettings, resources: Resources) -> Provider:
    """The adapter named by ``provider.name``, sharing the session (and AMI connection)."""
    return cast(Provider, _load(_entry(settings).provider)(settings, resources))


def build_lookup(settings: ProviderSettings, res: Resources) -> LineLookup | None:
    """The provider's line-type lookup when ``provider.lookup.enabled``, else None."""
    ref = _entry(settings).lookup
    if not settings.lookup.enabled or ref is None:  # the settings validator names the gap
        return None
    return cast(LineLookup, _load(ref)(settings, res))


def build_webhooks(settings: ProviderSettings, res: Resources) -> dict[str, WebhookAdapter]:
    """The callback verifier/parser of the configured provider, by URL name."""
    ref = _entry(settings).webhook
    if ref is None:
        return {}
    return {settings.name: cast(WebhookAdapter, _load(ref)(settings, res))}
