"""Vonage Messages API adapter (``POST /v1/messages``) and its signed-JWT webhooks.

Send: https://developer.vonage.com/en/api/messages (JWT RS256 or basic auth, 202 with
``message_uuid``, RFC 7807 errors listed at https://developer.vonage.com/en/api-errors/messages).
Webhooks: https://developer.vonage.com/en/messages/concepts/signed-webhooks (HS256 JWT in
``Authorization: Bearer``, signed with the account's signature secret, ``payload_hash`` claim).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from asterisk_textback.errors import (
    ConfigError,
    ProviderAuthError,
    ProviderError,
    ProviderNumberError,
    ProviderOptedOutError,
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

#: The Messages API v1 accepts a ``client_ref`` of at most 100 characters.
CLIENT_REF_MAX = 100

# Messages API error codes (the fragment of the problem ``type`` URL, also the status
# webhook's ``error.title``), grouped by what they mean for us.
_TRANSIENT_CODES = frozenset({"1000", "1030", "1100"})  # throttled, internal, comms failure
_NUMBER_CODES = frozenset({"1040", "1050", "1170"})  # bad prefix, barred, invalid msisdn
_AUTH_CODES = frozenset(
    {
        "1060",  # partner account barred
        "1070",  # partner quota exceeded (no credit)
        "1080",  # account not enabled for REST
        "1120",  # illegal sender address (sender not registered for the destination)
        "1140",  # facility not allowed
        "1160",  # non white-listed destination (trial account)
        # generic errors, https://developer.vonage.com/en/api-errors
        "unauthorized",
        "forbidden",
        "unprovisioned",
        "account-suspended",
        "jwt-expired",
        "jwt-revoked",
        "invalid-api-key",
        "invalid-signature",
        "low-balance",
    }
)
_OPT_OUT_WORDS = ("opted out", "opted-out", "opt-out", "opt out")

_STATES = {
    "submitted": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.DELIVERED,
    "rejected": DeliveryState.FAILED,
    "undeliverable": DeliveryState.UNDELIVERED,
}


class VonageSettings(BaseModel):
    """``[provider.vonage]``: Messages API credentials (secrets by env var name) and endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: ``jwt`` (application id + private key, recommended by Vonage) or ``basic``.
    auth: Literal["jwt", "basic"] = "jwt"
    application_id: str | None = None
    #: Environment variable holding the application's PEM private key.
    private_key_env: str | None = None
    api_key: str | None = None
    #: Environment variable holding the API secret (basic auth).
    api_secret_env: str | None = None
    #: Environment variable holding the signature secret that signs webhooks.
    signature_secret_env: str | None = None
    #: Refuse webhooks whose JWT carries no ``payload_hash`` claim.
    require_payload_hash: bool = True
    #: Oldest webhook JWT ``iat`` accepted, in seconds.
    webhook_max_age_seconds: float = Field(default=300.0, gt=0)
    api_base_url: HttpUrl = HttpUrl("https://api.nexmo.com")
    #: The Account API (balance), read by ``check`` to prove basic-auth credentials.
    account_api_base_url: HttpUrl = HttpUrl("https://rest.nexmo.com")
    jwt_ttl_seconds: int = Field(default=300, gt=0, le=86400)
    timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _credentials_named(self) -> VonageSettings:
        if self.auth == "jwt" and not (self.application_id and self.private_key_env):
            raise ValueError("provider.vonage: auth 'jwt' needs application_id and private_key_env")
        if self.auth == "basic" and not (self.api_key and self.api_secret_env):
            raise ValueError("provider.vonage: auth 'basic' needs api_key and api_secret_env")
        return self


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


def _msisdn(number: str) -> str:
    """Vonage wants E.164 without the leading ``+``."""
    return number[1:] if number.startswith("+") else number


def _e164(number: str) -> str:
    return number if number.startswith("+") or not number.isdigit() else f"+{number}"


def _code(problem: Mapping[str, Any]) -> str:
    """The error code of a problem object: the ``type`` URL's fragment, else its title."""
    kind = str(problem.get("type") or "")
    if "#" in kind:
        return kind.rsplit("#", 1)[1]
    return str(problem.get("title") or "")


def _opted_out(problem: Mapping[str, Any]) -> bool:
    text = f"{problem.get('title', '')} {problem.get('detail', '')}".lower()
    return any(word in text for word in _OPT_OUT_WORDS)


def load_private_key(pem: str | bytes) -> RSAPrivateKey:
    """Parse the application's PEM private key, or raise :class:`ConfigError`."""
    try:
        key = load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, None)
    except (ValueError, TypeError):
        # The parser's message is not echoed: it must never carry key material into logs.
        raise ConfigError("provider.vonage.private_key_env: not a PEM private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError("provider.vonage.private_key_env: Vonage keys are RSA keys")
    return key


class VonageProvider:
    """Sends SMS through the Vonage Messages API, sending the outbox key as ``client_ref``."""

    name = "vonage"

    def __init__(
        self,
        settings: VonageSettings,
        session: aiohttp.ClientSession,
        *,
        private_key: str | bytes | None = None,
        api_secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._session = session
        self._clock = clock
        self._url = f"{str(settings.api_base_url).rstrip('/')}/v1/messages"
        self._key: RSAPrivateKey | None = None
        self._basic: str | None = None
        if settings.auth == "jwt":
            if not private_key:
                raise ConfigError("provider.vonage.private_key_env: the private key is empty")
            self._key = load_private_key(private_key)
        else:
            if not api_secret:
                raise ConfigError("provider.vonage.api_secret_env: the API secret is empty")
            self._basic = basic_auth_value(settings.api_key or "", api_secret)

    def _authorization(self) -> str:
        if self._key is None:
            return self._basic or ""
        now = int(self._clock())
        claims = {
            "application_id": self._settings.application_id,
            "iat": now,
            "exp": now + self._settings.jwt_ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        return f"Bearer {jwt.encode(claims, self._key, algorithm='RS256')}"

    def payload(self, sms: OutboundSms) -> dict[str, str]:
        """The JSON body Vonage documents for an SMS text message."""
        ref = sms.idempotency_key
        if len(ref) > CLIENT_REF_MAX:  # keep it unique and stable rather than truncated
            ref = hashlib.sha256(ref.encode()).hexdigest()
        return {
            "message_type": "text",
            "channel": "sms",
            "to": _msisdn(sms.to),
            "from": _msisdn(sms.sender),
            "text": sms.body,
            "client_ref": ref,
        }

    async def send(self, sms: OutboundSms) -> SendResult:
        """POST the text; map Vonage's answer onto our provider errors."""
        headers = {"Authorization": self._authorization(), "Accept": "application/json"}
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                async with self._session.post(
                    self._url, json=self.payload(sms), headers=headers
                ) as resp:
                    text = await resp.text()
                    return self._result(resp.status, resp.headers, text)
        except aiohttp.ClientConnectorError as exc:
            # Never connected: the text cannot have left, a retry is safe.
            raise ProviderTransientError(f"vonage: {exc!r}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ProviderOutcomeUnknownError(f"vonage: {exc!r}") from exc

    def _result(self, status: int, headers: Mapping[str, str], text: str) -> SendResult:
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if 200 <= status < 300:
            uuid_ = body.get("message_uuid")
            if not isinstance(uuid_, str) or not uuid_:
                # Accepted, but we cannot track it: never send it again.
                raise ProviderOutcomeUnknownError(f"vonage: HTTP {status} without message_uuid")
            return SendResult(self.name, uuid_)
        raise self._error(status, headers, body, text)

    def _error(
        self, status: int, headers: Mapping[str, str], problem: dict[str, Any], text: str
    ) -> ProviderError:
        code = _code(problem)
        summary = problem.get("detail") or problem.get("title") or text[:200]
        detail = f"vonage: HTTP {status} [{code or '-'}]: {summary}"
        if status == 429 or code in _TRANSIENT_CODES or status >= 500:
            return ProviderTransientError(detail, _retry_after(headers))
        if status in (401, 402, 403) or code in _AUTH_CODES:
            return ProviderAuthError(detail)
        if _opted_out(problem):
            return ProviderOptedOutError(detail)
        if code in _NUMBER_CODES or _names_field(problem, "to"):
            return ProviderNumberError(detail)
        return ProviderError(detail)

    async def verify(self) -> str:
        """Prove the credentials: the account balance (basic), or a self-checked JWT."""
        if self._key is None:
            return await self._balance()
        # The Messages API has no read call that a JWT-only application may make, so the
        # token is built as for a send and checked against the key's own public half.
        token = self._authorization().removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, self._key.public_key(), algorithms=["RS256"])
        except jwt.PyJWTError as exc:
            raise ProviderAuthError(f"vonage: the JWT does not verify: {exc}") from None
        return (
            f"JWT for application {claims.get('application_id')!r} signs and self-verifies "
            "(RS256); Vonage has no read call for JWT credentials, so the first send proves "
            "the key belongs to the application"
        )

    async def _balance(self) -> str:
        base = str(self._settings.account_api_base_url).rstrip("/")
        url = f"{base}/account/get-balance"
        headers = {"Authorization": self._basic or "", "Accept": "application/json"}
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                async with self._session.get(url, headers=headers) as resp:
                    status, resp_headers, text = resp.status, resp.headers, await resp.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            # A read changes nothing: any network trouble is simply worth another try.
            raise ProviderTransientError(f"vonage {url}: {exc!r}") from exc
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if not 200 <= status < 300:
            error = self._error(status, resp_headers, body, text)
            if isinstance(error, ProviderAuthError):
                secret = self._settings.api_secret_env
                fix = f"check provider.vonage.api_key and the secret in {secret}"
                raise ProviderAuthError(f"{error}; fix: {fix}") from None
            raise error
        value = body.get("value")
        if not isinstance(value, int | float):
            raise ProviderError(f"vonage: HTTP {status} without a balance value")
        return f"account {self._settings.api_key!r} active, balance {value:.2f} EUR"

    async def close(self) -> None:
        """The shared session is closed by its owner."""


def _names_field(problem: Mapping[str, Any], field: str) -> bool:
    params = problem.get("invalid_parameters")
    if not isinstance(params, list):
        return False
    return any(isinstance(p, dict) and p.get("name") == field for p in params)


def failure_kind(code: str, problem: Mapping[str, Any]) -> FailureKind:
    """What a status-webhook error code means for the contact."""
    if _opted_out(problem):
        return FailureKind.OPTED_OUT
    if code in _NUMBER_CODES:
        return FailureKind.NUMBER
    if code in _AUTH_CODES:
        return FailureKind.AUTH
    if code in _TRANSIENT_CODES:
        return FailureKind.TRANSIENT
    return FailureKind.OTHER


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class VonageWebhook:
    """Verifies Vonage's signed-JWT callbacks and parses status and inbound webhooks."""

    name = "vonage"

    def __init__(self, settings: VonageSettings, signature_secret: str) -> None:
        if not signature_secret:
            raise ConfigError("provider.vonage.signature_secret_env: the secret is empty")
        self._settings = settings
        self._secret = signature_secret

    def verify(self, request: WebhookRequest, now: float) -> dict[str, Any]:
        """The JWT's claims if the request is signed by us and fresh; else WebhookAuthError."""
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise WebhookAuthError("vonage: no Bearer token")
        try:
            # Time claims are checked below against the injected ``now``.
            claims: dict[str, Any] = jwt.decode(
                token.strip(),
                self._secret,
                algorithms=["HS256"],
                options={"require": ["iat"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise WebhookAuthError(f"vonage: bad token: {exc}") from None
        skew = 30.0
        iat = claims.get("iat")
        exp = claims.get("exp")
        if not isinstance(iat, int | float) or iat > now + skew:
            raise WebhookAuthError("vonage: token issued in the future")
        if now - iat > self._settings.webhook_max_age_seconds:
            raise WebhookAuthError("vonage: token too old")
        if exp is not None and (not isinstance(exp, int | float) or exp < now - skew):
            raise WebhookAuthError("vonage: token expired")
        expected = self._settings.api_key
        if expected and claims.get("api_key") not in (None, expected):
            raise WebhookAuthError("vonage: token for another account")
        digest = claims.get("payload_hash")
        if digest is None:
            if self._settings.require_payload_hash:
                raise WebhookAuthError("vonage: token has no payload_hash")
        elif not isinstance(digest, str) or not hmac.compare_digest(
            digest.lower(), hashlib.sha256(request.body).hexdigest()
        ):
            raise WebhookAuthError("vonage: body does not match payload_hash")
        return claims

    def parse(self, request: WebhookRequest, now: float) -> list[WebhookEvent]:
        """The delivery report or inbound text in one verified callback."""
        self.verify(request, now)
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookPayloadError("vonage: body is not JSON") from None
        if not isinstance(data, dict):
            raise WebhookPayloadError("vonage: body is not a JSON object")
        if data.get("channel") not in (None, "sms"):
            return []  # another channel of the same application: not ours
        if "status" in data:
            return [self._report(data)]
        return [self._inbound(data)]

    def _report(self, data: Mapping[str, Any]) -> DeliveryReport:
        uuid_ = data.get("message_uuid")
        state = _STATES.get(str(data.get("status")))
        if not isinstance(uuid_, str) or not uuid_ or state is None:
            raise WebhookPayloadError("vonage: status webhook without message_uuid/status")
        error = data.get("error")
        if not isinstance(error, dict) or state not in (
            DeliveryState.FAILED,
            DeliveryState.UNDELIVERED,
        ):
            return DeliveryReport(self.name, uuid_, state, at=_timestamp(data.get("timestamp")))
        code = _code(error)
        return DeliveryReport(
            self.name,
            uuid_,
            state,
            error_code=code or None,
            error_detail=str(error.get("detail") or error.get("title") or "") or None,
            failure=failure_kind(code, error),
            at=_timestamp(data.get("timestamp")),
        )

    def _inbound(self, data: Mapping[str, Any]) -> InboundSms:
        uuid_, sender, to, text = (data.get(k) for k in ("message_uuid", "from", "to", "text"))
        if not (isinstance(uuid_, str) and isinstance(sender, str) and isinstance(to, str)):
            raise WebhookPayloadError("vonage: inbound webhook without message_uuid/from/to")
        if not (uuid_ and sender and to) or not isinstance(text, str | None):
            raise WebhookPayloadError("vonage: inbound webhook with empty or odd fields")
        at = _timestamp(data.get("timestamp"))
        return InboundSms(self.name, uuid_, _e164(sender), _e164(to), text or "", at=at)
