"""Bandwidth Messaging API v2 adapter and its basic-auth callbacks.

Send: https://dev.bandwidth.com/docs/messaging/createMessage (``POST
/api/v2/users/{accountId}/messages``, 202 with ``id``). Auth: OAuth 2.0 client credentials
(https://dev.bandwidth.com/docs/account/credentials/management, legacy API users end
2 Dec 2026) or legacy basic auth. Errors and callback ``errorCode`` values:
https://dev.bandwidth.com/docs/messaging/errors.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from asterisk_textback.errors import (
    ConfigError,
    ProviderAuthError,
    ProviderError,
    ProviderNumberError,
    ProviderOutcomeUnknownError,
    ProviderTransientError,
    WebhookAuthError,
    WebhookPayloadError,
)
from asterisk_textback.sms._http import basic_auth_value
from asterisk_textback.sms.base import (
    DeliveryReport,
    DeliveryState,
    FailureKind,
    InboundSms,
    OutboundSms,
    SendResult,
    WebhookEvent,
    WebhookRequest,
)

#: Bandwidth documents ``tag`` as any string of at most 1024 characters.
TAG_MAX = 1024

# Callback ``errorCode`` values (messaging errors page) grouped by what they mean for us.
_NUMBER_CODES = frozenset(
    {4303, 4350, 4404, 4406, 4408, 4434, 4492, 4700, 4720, 4721, 4730}
)  # malformed/unallocated/forbidden "to", not SMS-capable (landline), deactivated, no route
_OPT_OUT_CODES = frozenset({4482, 4775})  # "to" blocked from receiving; carrier-side opt-out
_AUTH_CODES = frozenset(
    {4302, 4403, 4405, 4407, 4431, 4433, 4451, 4452, 4481, 4493, 4740, 4773, 4774, 4795}
    | {4791, 4792, 4793}
)  # sender not ours/not enabled/blacklisted, campaign inactive (10DLC), toll-free unverified
_TRANSIENT_CODES = frozenset({4702, 4780, 4781, 4785})  # handset unavailable, volumetric


class BandwidthSettings(BaseModel):
    """``[provider.bandwidth]``: account, application, credentials (by env var name)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str = Field(min_length=1)
    application_id: str = Field(min_length=1)
    #: ``oauth`` (API credentials, client id/secret) or legacy ``basic`` (API user).
    auth: Literal["oauth", "basic"] = "oauth"
    client_id: str | None = None
    client_secret_env: str | None = None
    username: str | None = None
    password_env: str | None = None
    #: The basic-auth credentials set on the Bandwidth application for its callbacks.
    callback_username: str | None = None
    callback_password_env: str | None = None
    api_base_url: HttpUrl = HttpUrl("https://messaging.bandwidth.com")
    token_url: HttpUrl = HttpUrl("https://api.bandwidth.com/api/v1/oauth2/token")
    timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _credentials_named(self) -> BandwidthSettings:
        if self.auth == "oauth" and not (self.client_id and self.client_secret_env):
            raise ValueError("provider.bandwidth: auth 'oauth' needs client_id, client_secret_env")
        if self.auth == "basic" and not (self.username and self.password_env):
            raise ValueError("provider.bandwidth: auth 'basic' needs username and password_env")
        return self


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _field_names(error: Mapping[str, Any]) -> set[str]:
    fields = error.get("fieldErrors")
    if not isinstance(fields, list):
        return set()
    return {str(f.get("fieldName")) for f in fields if isinstance(f, dict)}


class BandwidthProvider:
    """Sends SMS through Bandwidth Messaging v2, sending the outbox key as ``tag``."""

    name = "bandwidth"

    def __init__(
        self,
        settings: BandwidthSettings,
        session: aiohttp.ClientSession,
        *,
        secret: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``secret`` is the client secret (oauth) or the API user's password (basic)."""
        if not secret:
            what = "client_secret_env" if settings.auth == "oauth" else "password_env"
            raise ConfigError(f"provider.bandwidth.{what}: the secret is empty")
        self._settings = settings
        self._session = session
        self._clock = clock
        user = settings.client_id if settings.auth == "oauth" else settings.username
        self._basic = basic_auth_value(user or "", secret)
        base = str(settings.api_base_url).rstrip("/")
        self._url = f"{base}/api/v2/users/{settings.account_id}/messages"
        self._token: tuple[str, float] | None = None  # (access token, monotonic expiry)
        self._token_lock = asyncio.Lock()

    def payload(self, sms: OutboundSms) -> dict[str, Any]:
        """The JSON body Bandwidth documents for a text message."""
        return {
            "applicationId": self._settings.application_id,
            "to": [sms.to],
            "from": sms.sender,
            "text": sms.body,
            "tag": sms.idempotency_key[:TAG_MAX],
        }

    async def _bearer(self) -> str:
        # One refresh at a time: concurrent senders wait for the same token.
        async with self._token_lock:
            if self._token is not None and self._token[1] > self._clock():
                return self._token[0]
            s = self._settings
            try:
                async with asyncio.timeout(s.timeout_seconds):
                    async with self._session.post(
                        str(s.token_url),
                        data={"grant_type": "client_credentials"},
                        headers={"Authorization": self._basic},
                    ) as resp:
                        status, headers, body = resp.status, resp.headers, await resp.text()
            except (TimeoutError, aiohttp.ClientError) as exc:
                # No text was sent yet, so even a timeout is safe to retry.
                raise ProviderTransientError(f"bandwidth token: {exc!r}") from exc
            data = _json(body)
            token = data.get("access_token")
            if status == 200 and isinstance(token, str) and token:
                ttl = data.get("expires_in")
                ttl = float(ttl) if isinstance(ttl, int | float) else 300.0
                # Refresh a minute early so a token never expires mid-request.
                self._token = (token, self._clock() + max(0.0, ttl - 60.0))
                return token
            detail = f"bandwidth token: HTTP {status}: {body[:200]}"
            if status == 429 or status >= 500:
                raise ProviderTransientError(detail, _retry_after(headers))
            raise ProviderAuthError(detail)

    async def send(self, sms: OutboundSms) -> SendResult:
        """POST the text; map Bandwidth's answer onto our provider errors."""
        retried = False
        while True:
            if self._settings.auth == "oauth":
                auth = f"Bearer {await self._bearer()}"
            else:
                auth = self._basic
            status, headers, text = await self._post(sms, auth)
            if status == 401 and self._settings.auth == "oauth" and not retried:
                # A cached token may have been revoked; a 401 means nothing was sent.
                self._token = None
                retried = True
                continue
            return self._result(status, headers, text)

    async def _post(self, sms: OutboundSms, auth: str) -> tuple[int, Mapping[str, str], str]:
        headers = {"Authorization": auth, "Accept": "application/json"}
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                async with self._session.post(
                    self._url, json=self.payload(sms), headers=headers
                ) as resp:
                    return resp.status, resp.headers, await resp.text()
        except aiohttp.ClientConnectorError as exc:
            # Never connected: the text cannot have left, a retry is safe.
            raise ProviderTransientError(f"bandwidth: {exc!r}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ProviderOutcomeUnknownError(f"bandwidth: {exc!r}") from exc

    def _result(self, status: int, headers: Mapping[str, str], text: str) -> SendResult:
        body = _json(text)
        if 200 <= status < 300:
            ident = body.get("id")
            if not isinstance(ident, str) or not ident:
                raise ProviderOutcomeUnknownError(f"bandwidth: HTTP {status} without id")
            return SendResult(self.name, ident)
        kind = body.get("type") or "-"
        detail = f"bandwidth: HTTP {status} [{kind}]: {body.get('description') or text[:200]}"
        if status == 429 or status >= 500:
            raise ProviderTransientError(detail, _retry_after(headers))
        if status in (401, 403, 404):  # credentials, messaging role, or account id in the URL
            raise ProviderAuthError(detail)
        fields = _field_names(body)
        if status == 400 and "to" in fields:
            raise ProviderNumberError(detail)
        if status == 400 and fields & {"from", "applicationId"}:
            raise ProviderAuthError(detail)  # our sender or application: fix the config
        raise ProviderError(detail)

    async def verify(self) -> str:
        """List one message (``GET …/messages?limit=1``): proves credentials, role and account."""
        try:
            status, headers, text = await self._list_one()
            if not 200 <= status < 300:
                self._result(status, headers, text)  # raises the mapped error
        except ProviderAuthError as exc:
            fix = (
                "check provider.bandwidth.account_id and the API credentials "
                "(they need the Messaging role)"
            )
            raise ProviderAuthError(f"{exc}; fix: {fix}") from None
        if "totalCount" not in _json(text):
            raise ProviderError(f"bandwidth: HTTP {status} without a message list")
        return f"account {self._settings.account_id}: messaging API access confirmed"

    async def _list_one(self) -> tuple[int, Mapping[str, str], str]:
        auth = f"Bearer {await self._bearer()}" if self._settings.auth == "oauth" else self._basic
        url = f"{self._url}?limit=1&limitTotalCount=true"
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                async with self._session.get(
                    url, headers={"Authorization": auth, "Accept": "application/json"}
                ) as resp:
                    return resp.status, resp.headers, await resp.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            # A read changes nothing: any network trouble is simply worth another try.
            raise ProviderTransientError(f"bandwidth: cannot list messages: {exc!r}") from exc

    async def close(self) -> None:
        """The shared session is closed by its owner."""


def failure_kind(code: int) -> FailureKind:
    """What a ``message-failed`` ``errorCode`` means for the contact."""
    if code in _OPT_OUT_CODES:
        return FailureKind.OPTED_OUT
    if code in _NUMBER_CODES:
        return FailureKind.NUMBER
    if code in _AUTH_CODES:
        return FailureKind.AUTH
    if code in _TRANSIENT_CODES or 5000 <= code < 6000:
        return FailureKind.TRANSIENT
    return FailureKind.OTHER


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class BandwidthWebhook:
    """Checks the callback's basic auth and parses Bandwidth's array of message events."""

    name = "bandwidth"

    def __init__(self, username: str, password: str) -> None:
        if not username or not password:
            raise ConfigError(
                "provider.bandwidth.callback_username/callback_password_env: "
                "set the basic auth configured on the Bandwidth application"
            )
        self._expected = basic_auth_value(username, password).encode()

    def verify(self, request: WebhookRequest) -> None:
        """Raise WebhookAuthError unless the request carries our basic-auth credentials."""
        given = (request.header("Authorization") or "").strip().encode()
        # Compared as whole headers in constant time: no early exit on the username.
        if not hmac.compare_digest(given, self._expected):
            raise WebhookAuthError("bandwidth: wrong or missing basic auth")

    def parse(self, request: WebhookRequest, now: float) -> list[WebhookEvent]:
        """The delivery reports and inbound texts in one verified callback."""
        self.verify(request)
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookPayloadError("bandwidth: body is not JSON") from None
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise WebhookPayloadError("bandwidth: body is not a JSON array of events")
        events: list[WebhookEvent] = []
        for item in data:
            event = self._event(item)
            if event is not None:
                events.append(event)
        return events

    def _event(self, item: Any) -> WebhookEvent | None:
        if not isinstance(item, dict) or not isinstance(item.get("message"), dict):
            raise WebhookPayloadError("bandwidth: event without a message object")
        kind = item.get("type")
        message: dict[str, Any] = item["message"]
        ident = _text(message.get("id"))
        if ident is None:
            raise WebhookPayloadError("bandwidth: event without message.id")
        at = _timestamp(item.get("time"))
        if kind == "message-received":
            sender = _text(message.get("from"))
            to = _text(item.get("to"))
            if to is None and isinstance(message.get("to"), list) and message["to"]:
                to = _text(message["to"][0])
            if sender is None or to is None:
                raise WebhookPayloadError("bandwidth: message-received without from/to")
            body = message.get("text")
            return InboundSms(
                self.name, ident, sender, to, body if isinstance(body, str) else "", at
            )
        if kind == "message-sending":
            return DeliveryReport(self.name, ident, DeliveryState.ACCEPTED, at=at)
        if kind == "message-delivered":
            return DeliveryReport(self.name, ident, DeliveryState.DELIVERED, at=at)
        if kind == "message-failed":
            return self._failed(item, ident, at)
        return None  # a newer event type: acknowledged, nothing to record

    def _failed(self, item: Mapping[str, Any], ident: str, at: float | None) -> DeliveryReport:
        raw = item.get("errorCode")
        try:
            code = int(raw) if isinstance(raw, int | str) else None
        except ValueError:
            code = None
        # 47xx/56xx/99xx are reported by the carrier: the text left Bandwidth.
        carrier = code is not None and (code // 100 in (47, 56) or code // 1000 == 9)
        return DeliveryReport(
            self.name,
            ident,
            DeliveryState.UNDELIVERED if carrier else DeliveryState.FAILED,
            error_code=None if raw is None else str(raw),
            error_detail=_text(item.get("description")),
            failure=FailureKind.OTHER if code is None else failure_kind(code),
            at=at,
        )
