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
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from pydantic import Field, RootModel

from asterisk_textback.errors import (
    ConfigError,
    ProviderAuthError,
    ProviderError,
    WebhookAuthError,
    WebhookPayloadError,
)
from asterisk_textback.sms._http import (
    Accepted,
    Client,
    Dialect,
    Model,
    Reply,
    Verdict,
    accepted_id,
    basic_auth_value,
    parse_body,
    refusal,
)
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
from asterisk_textback.sms.resources import Resources, section
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.sms.settings.bandwidth import BandwidthSettings as BandwidthSettings
from asterisk_textback.sms.wire import epoch

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


class _FieldError(Model):
    name: Any = Field(default=None, alias="fieldName")


class _Refusal(Model):
    """Bandwidth's error body: ``type``, ``description`` and, for a 400, ``fieldErrors``."""

    type: Any = None
    description: Any = None
    field_errors: tuple[_FieldError, ...] = Field(default=(), alias="fieldErrors")

    def fields(self) -> set[str]:
        """The names of the fields Bandwidth refused."""
        return {str(f.name) for f in self.field_errors}


def verdict(reply: Reply) -> Verdict:
    """A 400 is the number's fault when it names ``to``, ours when it names the sender."""
    found = reply.parsed(_Refusal) or _Refusal()
    kind = None
    if reply.status == 400 and "to" in found.fields():
        kind = FailureKind.NUMBER
    elif reply.status == 400 and found.fields() & {"from", "applicationId"}:
        kind = FailureKind.AUTH  # our sender or application: fix the config
    code = str(found.type) if found.type else None
    return Verdict(code, str(found.description or ""), kind)


class _Created(Accepted):
    """``202`` with the message, whose ``id`` the callbacks will name."""


class _Token(Model):
    access_token: str = Field(min_length=1)
    expires_in: float = 300.0


class _Page(Model):
    #: Present when the list call worked (its value does not matter).
    total: Any = Field(alias="totalCount")


DIALECT = Dialect(
    "bandwidth",
    # 402 is not in Bandwidth's messaging errors; 404 is a wrong account id in the URL.
    statuses={402: ProviderError, 404: ProviderAuthError},
    refusal=verdict,
    accepted=_Created,
)
#: The token endpoint: anything but a token or a transient status is our credentials.
_TOKEN = Dialect("bandwidth token", statuses={}, fallback=ProviderAuthError)


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
        accept = {"Accept": "application/json"}
        self._http = Client(session, DIALECT, settings.timeout_seconds, accept)
        self._tokens = Client(session, _TOKEN, settings.timeout_seconds)
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
            # No text was sent yet, so even a timeout is safe to retry (safe=True).
            reply = await self._tokens.call(
                "POST",
                str(self._settings.token_url),
                safe=True,
                data={"grant_type": "client_credentials"},
                headers={"Authorization": self._basic},
            )
            if not reply.ok:
                raise refusal(reply, _TOKEN)
            found = reply.parsed(_Token) if reply.status == 200 else None
            if found is None:
                raise ProviderAuthError(f"bandwidth token: HTTP {reply.status} without a token")
            # Refresh a minute early so a token never expires mid-request.
            self._token = (found.access_token, self._clock() + max(0.0, found.expires_in - 60.0))
            return found.access_token

    async def _authorization(self) -> dict[str, str]:
        if self._settings.auth == "oauth":
            return {"Authorization": f"Bearer {await self._bearer()}"}
        return {"Authorization": self._basic}

    async def send(self, sms: OutboundSms) -> SendResult:
        """POST the text; map Bandwidth's answer onto our provider errors."""
        retried = False
        while True:
            auth = await self._authorization()
            reply = await self._http.call(
                "POST", self._url, safe=False, json=self.payload(sms), headers=auth
            )
            if reply.status == 401 and self._settings.auth == "oauth" and not retried:
                # A cached token may have been revoked; a 401 means nothing was sent.
                self._token = None
                retried = True
                continue
            return SendResult(self.name, accepted_id(reply, DIALECT))

    async def verify(self) -> str:
        """List one message (``GET …/messages?limit=1``): proves credentials, role and account."""
        fix = (
            "check provider.bandwidth.account_id and the API credentials "
            "(they need the Messaging role)"
        )
        try:
            auth = await self._authorization()
        except ProviderAuthError as exc:
            raise ProviderAuthError(f"{exc}; fix: {fix}") from None
        params = {"limit": "1", "limitTotalCount": "true"}
        reply = await self._http.read(self._url, fix=fix, headers=auth, params=params)
        if reply.parsed(_Page) is None:
            raise ProviderError(f"bandwidth: HTTP {reply.status} without a message list")
        return f"account {self._settings.account_id}: messaging API access confirmed"

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


class _Message(Model):
    id: str | None = None
    sender: str | None = Field(default=None, alias="from")
    to: tuple[str, ...] = ()
    text: str | None = None


class _Event(Model):
    """One message event of a callback (only the fields we read)."""

    type: Any = None
    time: Any = None
    to: str | None = None
    description: str | None = None
    error_code: int | str | None = Field(default=None, alias="errorCode")
    message: _Message


class _Events(RootModel[list[_Event] | _Event]):
    """A callback body: an array of events (a single object is taken as one)."""


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
        found = parse_body(_Events, request.body, "bandwidth").root
        items = found if isinstance(found, list) else [found]
        return [event for item in items if (event := self._event(item)) is not None]

    def _event(self, item: _Event) -> WebhookEvent | None:
        message = item.message
        if not message.id:
            raise WebhookPayloadError("bandwidth: event without message.id")
        at = epoch(item.time)
        if item.type == "message-received":
            sender, to = message.sender, item.to or (message.to[0] if message.to else None)
            if not sender or not to:
                raise WebhookPayloadError("bandwidth: message-received without from/to")
            return InboundSms(self.name, message.id, sender, to, message.text or "", at)
        if item.type == "message-sending":
            return DeliveryReport(self.name, message.id, DeliveryState.ACCEPTED, at=at)
        if item.type == "message-delivered":
            return DeliveryReport(self.name, message.id, DeliveryState.DELIVERED, at=at)
        if item.type == "message-failed":
            return self._failed(item, message.id, at)
        return None  # a newer event type: acknowledged, nothing to record

    def _failed(self, item: _Event, ident: str, at: float | None) -> DeliveryReport:
        raw = item.error_code
        try:
            code = None if raw is None else int(raw)
        except ValueError:
            code = None
        # 47xx/56xx/99xx are reported by the carrier: the text left Bandwidth.
        carrier = code is not None and (code // 100 in (47, 56) or code // 1000 == 9)
        return DeliveryReport(
            self.name,
            ident,
            DeliveryState.UNDELIVERED if carrier else DeliveryState.FAILED,
            error_code=None if raw is None else str(raw),
            error_detail=item.description or None,
            failure=FailureKind.OTHER if code is None else failure_kind(code),
            at=at,
        )


def build(settings: ProviderSettings, res: Resources) -> BandwidthProvider:
    """The Bandwidth adapter of ``[provider.bandwidth]``: OAuth client or legacy API user."""
    s = section(settings.bandwidth, "bandwidth")
    env = s.client_secret_env if s.auth == "oauth" else s.password_env
    what = "client_secret_env" if s.auth == "oauth" else "password_env"
    return BandwidthProvider(s, res.http, secret=res.secret(f"provider.bandwidth.{what}", env))


def build_webhook(settings: ProviderSettings, res: Resources) -> BandwidthWebhook:
    """Bandwidth's callback check: the basic auth set on the Bandwidth application."""
    s = section(settings.bandwidth, "bandwidth")
    if not s.callback_username:
        raise ConfigError("provider.bandwidth.callback_username: needed to check callbacks")
    password = res.secret("provider.bandwidth.callback_password_env", s.callback_password_env)
    return BandwidthWebhook(s.callback_username, password)
