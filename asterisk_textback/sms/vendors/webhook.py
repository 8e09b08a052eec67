"""Generic HTTP webhook adapter: POST each text to a URL you choose, errors mapped once."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import aiohttp

from asterisk_textback.calls.callertext import header_value
from asterisk_textback.errors import ProviderAuthError, ProviderError, ProviderTransientError
from asterisk_textback.sms._http import Client, Dialect, Model, Reply, Verdict, raise_for
from asterisk_textback.sms.base import FailureKind, OutboundSms, SendResult
from asterisk_textback.sms.resources import Resources, section
from asterisk_textback.sms.settings import ProviderSettings, WebhookSettings

SIGNATURE_HEADER = "X-Textback-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: The gateway's ``{"error": …}`` verdicts. Only an explicit one marks the contact: a
#: generic 400 may just be our payload or its configuration, not the caller's number.
CODES: dict[str, FailureKind] = {
    **dict.fromkeys(
        ("invalid_number", "landline", "not_sms_capable", "unreachable"), FailureKind.NUMBER
    ),
    "opted_out": FailureKind.OPTED_OUT,
}


class _Refusal(Model):
    error: Any = None


def verdict(reply: Reply) -> Verdict:
    """The gateway's ``error`` code, looked up in :data:`CODES`."""
    found = reply.parsed(_Refusal)
    code = None if found is None or found.error is None else str(found.error)
    return Verdict(code, reply.text[:200], CODES.get(code or ""))


def dialect(name: str) -> Dialect:
    """The statuses a gateway means beyond the shared rules (425 Too Early: try again)."""
    return Dialect(
        name,
        # Wrong URL or method: stop and tell. 402 says nothing the gateway documents.
        statuses={
            402: ProviderError,
            404: ProviderAuthError,
            405: ProviderAuthError,
            410: ProviderAuthError,
            425: ProviderTransientError,
        },
        refusal=verdict,
    )


def _dig(text: str, path: str) -> str | None:
    """The value at a dotted ``path`` of a JSON body, as text (the gateway chose the shape)."""
    try:
        data = json.loads(text)
        for part in path.split("."):
            data = data[part]
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    return None if data is None else str(data)


class WebhookProvider:
    """Sends ``{"to", "from", "body", "idempotency_key", …}`` to a configured URL."""

    name = "webhook"

    def __init__(
        self, settings: WebhookSettings, session: aiohttp.ClientSession, hmac_key: bytes | None
    ) -> None:
        self._settings = settings
        self._key = hmac_key
        where = dialect(f"webhook {settings.url}")
        self._http = Client(session, where, settings.timeout_seconds, settings.headers)

    def _payload(self, sms: OutboundSms) -> dict[str, str]:
        return {
            "to": sms.to,
            "from": sms.sender,
            "body": sms.body,
            "idempotency_key": sms.idempotency_key,
            "segments": str(sms.segments),
            "encoding": sms.encoding,
        }

    async def send(self, sms: OutboundSms) -> SendResult:
        """POST the text; map the HTTP outcome onto our provider errors."""
        s = self._settings
        payload = self._payload(sms)
        if s.body_format == "json":
            data = json.dumps(payload).encode()
            content_type = "application/json"
        else:
            data = urlencode(payload).encode()
            content_type = "application/x-www-form-urlencoded"
        headers = {
            "Content-Type": content_type,
            IDEMPOTENCY_HEADER: header_value(sms.idempotency_key),
        }
        if self._key is not None:
            digest = hmac.new(self._key, data, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        reply = await self._http.call(s.method, str(s.url), safe=False, data=data, headers=headers)
        raise_for(reply, self._http.dialect)
        # A gateway need not answer with an id: the outbox key then names the text.
        return SendResult(self.name, _dig(reply.text, s.id_field) or sms.idempotency_key)

    async def close(self) -> None:
        """The shared session is closed by its owner."""


def build(settings: ProviderSettings, res: Resources) -> WebhookProvider:
    """The webhook adapter of ``[provider.webhook]`` (its HMAC key from the environment)."""
    hook = section(settings.webhook, "webhook")
    key = None
    if hook.hmac_secret_env:
        key = res.secret("provider.webhook.hmac_secret_env", hook.hmac_secret_env).encode()
    return WebhookProvider(hook, res.http, key)
