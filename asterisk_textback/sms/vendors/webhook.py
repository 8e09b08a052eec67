"""Generic HTTP webhook adapter: POST each text to a URL you choose, errors mapped once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp

from asterisk_textback.calls.callertext import header_value
from asterisk_textback.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNumberError,
    ProviderOptedOutError,
    ProviderOutcomeUnknownError,
    ProviderTransientError,
)
from asterisk_textback.sms.base import OutboundSms, SendResult
from asterisk_textback.sms.settings import WebhookSettings

SIGNATURE_HEADER = "X-Textback-Signature"
_NUMBER_ERRORS = frozenset({"invalid_number", "landline", "not_sms_capable", "unreachable"})
IDEMPOTENCY_HEADER = "Idempotency-Key"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


def _dig(data: Any, path: str) -> str | None:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return None if data is None else str(data)


class WebhookProvider:
    """Sends ``{"to", "from", "body", "idempotency_key", …}`` to a configured URL."""

    name = "webhook"

    def __init__(
        self, settings: WebhookSettings, session: aiohttp.ClientSession, hmac_key: bytes | None
    ) -> None:
        self._settings = settings
        self._session = session
        self._key = hmac_key

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
            **s.headers,
            "Content-Type": content_type,
            IDEMPOTENCY_HEADER: header_value(sms.idempotency_key),
        }
        if self._key is not None:
            digest = hmac.new(self._key, data, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        try:
            async with asyncio.timeout(s.timeout_seconds):
                async with self._session.request(
                    s.method, str(s.url), data=data, headers=headers
                ) as resp:
                    text = await resp.text()
                    return self._result(resp.status, resp.headers, text, sms)
        except aiohttp.ClientConnectorError as exc:
            # Never connected: the text cannot have left, a retry is safe.
            raise ProviderTransientError(f"webhook {s.url}: {exc!r}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ProviderOutcomeUnknownError(f"webhook {s.url}: {exc!r}") from exc

    def _result(
        self, status: int, headers: Mapping[str, str], text: str, sms: OutboundSms
    ) -> SendResult:
        where = f"webhook {self._settings.url}"
        if 200 <= status < 300:
            try:
                ident = _dig(json.loads(text), self._settings.id_field) if text else None
            except ValueError:
                ident = None
            return SendResult(self.name, ident or sms.idempotency_key)
        detail = f"{where}: HTTP {status}: {text[:200]}"
        if status in (408, 425, 429) or status >= 500:
            raise ProviderTransientError(detail, _retry_after(headers))
        if status in (401, 403, 404, 405, 410):
            raise ProviderAuthError(detail)  # wrong URL or credentials: stop and tell
        try:
            code = _dig(json.loads(text), "error") if text else None
        except ValueError:
            code = None
        # Only an explicit verdict from the gateway marks the contact: a generic 400 may just
        # be our payload or its configuration, not the caller's number.
        if code in _NUMBER_ERRORS:
            raise ProviderNumberError(detail)
        if code == "opted_out":
            raise ProviderOptedOutError(detail)
        raise ProviderError(detail)

    async def close(self) -> None:
        """The shared session is closed by its owner."""
