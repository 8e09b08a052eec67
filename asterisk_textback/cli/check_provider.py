"""``check``'s provider and webhook lines: what the provider said, in words, with one fix.

An adapter's error already starts with its name and may carry its own "; fix: …" (an auth
refusal): the line shows the name once, the HTTP status with its reason phrase, the
provider's words (not a raw HTML page), and the fix on its own line only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from urllib.parse import urlsplit

import aiohttp

from asterisk_textback.cli.check_report import CheckResult
from asterisk_textback.config import Settings
from asterisk_textback.errors import ProviderAuthError, ProviderError, ProviderTransientError
from asterisk_textback.sms.base import Provider

WITH_CALLBACKS = frozenset({"twilio", "signalwire", "telnyx", "plivo", "vonage", "bandwidth"})
_REFUSAL = re.compile(r"HTTP (\d{3}) \[([^\]]*)\]: ?(.*)", re.DOTALL)
_WORDS_LIMIT = 160
#: Domains reserved for documentation (RFC 2606/6761): the sample config's URLs use them.
_SAMPLE_SUFFIXES = (".example", ".invalid", ".test")
_SAMPLE_DOMAINS = ("example.com", "example.net", "example.org")


def _words(text: str) -> str:
    """The provider's explanation, without markup, on one bounded line."""
    plain = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    if len(plain) > _WORDS_LIMIT:
        plain = plain[:_WORDS_LIMIT] + "…"
    return plain


def _status(code: int) -> str:
    try:
        return f"HTTP {code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


def _network(exc: BaseException) -> str | None:
    """Why the provider could not be reached, when that is what went wrong."""
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientConnectorDNSError):
        return f"cannot reach {cause.host}: its name does not resolve (DNS)"
    if isinstance(cause, aiohttp.ClientConnectorCertificateError):
        return f"cannot reach {cause.host}: its TLS certificate does not verify"
    if isinstance(cause, aiohttp.ClientConnectorError):
        why = cause.os_error.strerror or str(cause.os_error)
        return f"cannot connect to {cause.host}:{cause.port} ({why})"
    if isinstance(cause, TimeoutError):
        return "no answer in time (timeout)"
    if isinstance(cause, aiohttp.ClientError):
        return f"the connection failed ({type(cause).__name__})"
    return None


def provider_failure(exc: ProviderError, name: str, section: str) -> tuple[str, str]:
    """(detail, fix) for a failed verification: the name once, one fix."""
    text, _, fix = str(exc).removeprefix(f"{name}: ").partition("; fix: ")
    network = _network(exc)
    if network is not None:
        text = network
    elif found := _REFUSAL.match(text):
        code, vendor_code, words = int(found[1]), found[2], _words(found[3])
        text = _status(code)
        if vendor_code not in ("", "-"):
            text += f", {name} error {vendor_code}"
        text += f": {words}" if words else ": no explanation in the answer"
    if fix:  # the fix line says what to check: not also a "(check …)" hint after the words
        return re.sub(r" \(check [^()]*\)$", "", text), fix
    if isinstance(exc, ProviderAuthError):
        return text, f"check the account id and the secret's variable in [{section}]"
    if isinstance(exc, ProviderTransientError):
        return text, (
            "look at this server's outbound HTTPS (DNS, firewall, proxy), the API URL in "
            f"[{section}] and the provider's status page; then run check again"
        )
    return text, f"check [{section}] against the provider's console"


async def provider_line(provider: Provider, section: str) -> CheckResult:
    """The provider's own verification (credentials, account state) when it has one."""
    name = provider.name
    verify: Callable[[], Awaitable[str]] | None = getattr(provider, "verify", None)
    if verify is None:
        return CheckResult("provider", True, f"{name}: nothing to verify")
    try:
        return CheckResult("provider", True, f"{name}: {await verify()}")
    except ProviderError as exc:
        detail, fix = provider_failure(exc, name, section)
        return CheckResult("provider", False, f"{name}: {detail}", fix)


def sample_host(url: str) -> str | None:
    """Why the provider cannot call ``url`` back (a sample or local host), or None."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    sample = host in _SAMPLE_DOMAINS or any(host.endswith("." + d) for d in _SAMPLE_DOMAINS)
    if sample or host.endswith(_SAMPLE_SUFFIXES):
        return "still the sample"
    if host == "localhost" or host.endswith((".localhost", ".local")):
        return "a local address"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_loopback or address.is_private or address.is_link_local:
        return "a local address"
    return None


def webhooks_line(settings: Settings) -> CheckResult:
    """Providers that call back need the public URL their signatures are computed over."""
    name = settings.provider.name
    if name not in WITH_CALLBACKS:
        return CheckResult("webhooks", True, f"{name}: no provider callbacks")
    base = settings.web.webhooks.public_base_url
    if base is None or not settings.web.enabled:
        return CheckResult(
            "webhooks",
            False,
            f"{name} delivery reports, replies and STOP need a public webhook URL",
            "set [web.webhooks] public_base_url (behind your TLS proxy) and keep web enabled",
        )
    url = str(base).rstrip("/")
    what = sample_host(url)
    if what is not None:
        return CheckResult(
            "webhooks",
            True,
            f"web.webhooks.public_base_url is {what} ({url}): {name} cannot reach it",
            f"set it to the https URL {name} can reach (your TLS proxy in front of web.port)",
            warn=True,
        )
    return CheckResult("webhooks", True, f"set {url}/webhooks/{name} in the {name} console")
