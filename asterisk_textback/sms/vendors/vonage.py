"""Vonage Messages API adapter (``POST /v1/messages``) and its signed-JWT webhooks.

Send: https://developer.vonage.com/en/api/messages (JWT RS256 or basic auth, 202 with
``message_uuid``, RFC 7807 errors listed at https://developer.vonage.com/en/api-errors/messages).
Webhooks: https://developer.vonage.com/en/messages/concepts/signed-webhooks (HS256 JWT in
``Authorization: Bearer``, signed with the account's signature secret, ``payload_hash`` claim).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import Field, ValidationError

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
    basic_auth_value,
    parse_body,
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
from asterisk_textback.sms.settings.vonage import VonageSettings as VonageSettings
from asterisk_textback.sms.wire import epoch, with_plus, without_plus

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
    }
    # generic errors, https://developer.vonage.com/en/api-errors
    | {"unauthorized", "forbidden", "unprovisioned", "account-suspended", "jwt-expired"}
    | {"jwt-revoked", "invalid-api-key", "invalid-signature", "low-balance"}
)
_OPT_OUT_WORDS = ("opted out", "opted-out", "opt-out", "opt out")

_STATES = {
    "submitted": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.DELIVERED,
    "rejected": DeliveryState.FAILED,
    "undeliverable": DeliveryState.UNDELIVERED,
}


class _Parameter(Model):
    name: Any = None


class Problem(Model):
    """An RFC 7807 problem: a refusal's body, and the ``error`` of a status webhook."""

    type: Any = None
    title: Any = None
    detail: Any = None
    invalid_parameters: tuple[_Parameter, ...] = ()

    def code(self) -> str:
        """The error code: the ``type`` URL's fragment, else the title."""
        kind = str(self.type or "")
        if "#" in kind:
            return kind.rsplit("#", 1)[1]
        return str(self.title or "")

    def words(self) -> str:
        """What the problem says, for the operator."""
        return str(self.detail or self.title or "")

    def opted_out(self) -> bool:
        """Whether the words say the recipient opted out (Vonage has no code for it)."""
        text = f"{self.title or ''} {self.detail or ''}".lower()
        return any(word in text for word in _OPT_OUT_WORDS)

    def names(self, field: str) -> bool:
        """Whether ``field`` is among the invalid parameters."""
        return any(p.name == field for p in self.invalid_parameters)


def failure_kind(code: str, problem: Problem) -> FailureKind:
    """What an error code (and the problem's words) means for the contact."""
    if problem.opted_out():
        return FailureKind.OPTED_OUT
    if code in _NUMBER_CODES:
        return FailureKind.NUMBER
    if code in _AUTH_CODES:
        return FailureKind.AUTH
    if code in _TRANSIENT_CODES:
        return FailureKind.TRANSIENT
    return FailureKind.OTHER


def verdict(reply: Reply) -> Verdict:
    """Vonage's code table applied to a refusal (a bad ``to`` is the number's fault)."""
    problem = reply.parsed(Problem) or Problem()
    code = problem.code()
    kind: FailureKind | None = failure_kind(code, problem)
    if kind is FailureKind.OTHER:
        kind = FailureKind.NUMBER if problem.names("to") else None
    return Verdict(code or None, problem.words(), kind)


class _Sent(Accepted):
    """``202 {"message_uuid": …}``: the uuid the status webhooks will name."""

    id: str = Field(min_length=1, validation_alias="message_uuid")


class _Balance(Model):
    value: float


DIALECT = Dialect(
    "vonage",
    # 402 is Vonage's "low balance" (api-errors#low-balance): the account, not the number.
    statuses={402: ProviderAuthError},
    refusal=verdict,
    accepted=_Sent,
)


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
        accept = {"Accept": "application/json"}
        self._http = Client(session, DIALECT, settings.timeout_seconds, accept)
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
            "to": without_plus(sms.to),
            "from": without_plus(sms.sender),
            "text": sms.body,
            "client_ref": ref,
        }

    async def send(self, sms: OutboundSms) -> SendResult:
        """POST the text; map Vonage's answer onto our provider errors."""
        auth = {"Authorization": self._authorization()}
        ident = await self._http.send(self._url, json=self.payload(sms), headers=auth)
        return SendResult(self.name, ident)

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
        fix = f"check provider.vonage.api_key and the secret in {self._settings.api_secret_env}"
        auth = {"Authorization": self._basic or ""}
        reply = await self._http.read(f"{base}/account/get-balance", fix=fix, headers=auth)
        balance = reply.parsed(_Balance)
        if balance is None:
            raise ProviderError(f"vonage: HTTP {reply.status} without a balance value")
        return f"account {self._settings.api_key!r} active, balance {balance.value:.2f} EUR"

    async def close(self) -> None:
        """The shared session is closed by its owner."""


class _Claims(Model):
    """The claims of a signed webhook's JWT that we check."""

    iat: int | float
    exp: int | float | None = None
    api_key: Any = None
    payload_hash: str | None = None


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
        try:
            # Strict: a claim of the wrong type is not Vonage's, whatever signed it.
            said = _Claims.model_validate(claims, strict=True)
        except ValidationError:
            raise WebhookAuthError("vonage: token claims of the wrong type") from None
        skew = 30.0
        if said.iat > now + skew:
            raise WebhookAuthError("vonage: token issued in the future")
        if now - said.iat > self._settings.webhook_max_age_seconds:
            raise WebhookAuthError("vonage: token too old")
        if said.exp is not None and said.exp < now - skew:
            raise WebhookAuthError("vonage: token expired")
        expected = self._settings.api_key
        if expected and said.api_key not in (None, expected):
            raise WebhookAuthError("vonage: token for another account")
        if said.payload_hash is None:
            if self._settings.require_payload_hash:
                raise WebhookAuthError("vonage: token has no payload_hash")
        elif not hmac.compare_digest(
            said.payload_hash.lower(), hashlib.sha256(request.body).hexdigest()
        ):
            raise WebhookAuthError("vonage: body does not match payload_hash")
        return claims

    def parse(self, request: WebhookRequest, now: float) -> list[WebhookEvent]:
        """The delivery report or inbound text in one verified callback."""
        self.verify(request, now)
        # The channel first: another channel's webhook (WhatsApp, MMS…) is not ours to judge.
        if parse_body(_Channel, request.body, "vonage").channel not in (None, "sms"):
            return []
        data = parse_body(_Callback, request.body, "vonage")
        if "status" in data.model_fields_set:
            return [self._report(data)]
        return [self._inbound(data)]

    def _report(self, data: _Callback) -> DeliveryReport:
        state = _STATES.get(str(data.status))
        if not data.message_uuid or state is None:
            raise WebhookPayloadError("vonage: status webhook without message_uuid/status")
        at = epoch(data.timestamp)
        error = data.error
        if error is None or state not in (DeliveryState.FAILED, DeliveryState.UNDELIVERED):
            return DeliveryReport(self.name, data.message_uuid, state, at=at)
        code = error.code()
        kind = failure_kind(code, error)
        words = error.words() or None
        return DeliveryReport(self.name, data.message_uuid, state, code or None, words, kind, at)

    def _inbound(self, data: _Callback) -> InboundSms:
        uuid_, sender, to = data.message_uuid, data.sender, data.to
        if uuid_ is None or sender is None or to is None:
            raise WebhookPayloadError("vonage: inbound webhook without message_uuid/from/to")
        if not (uuid_ and sender and to):
            raise WebhookPayloadError("vonage: inbound webhook with empty or odd fields")
        at = epoch(data.timestamp)
        return InboundSms(
            self.name, uuid_, with_plus(sender), with_plus(to), data.text or "", at=at
        )


class _Channel(Model):
    channel: Any = None


class _Callback(Model):
    """A status or inbound webhook body (only the fields we read)."""

    status: Any = None
    message_uuid: str | None = None
    error: Problem | None = None
    timestamp: Any = None
    sender: str | None = Field(default=None, alias="from")
    to: str | None = None
    text: str | None = None


def build(settings: ProviderSettings, res: Resources) -> VonageProvider:
    """The Vonage adapter of ``[provider.vonage]``: JWT (private key) or basic auth."""
    s = section(settings.vonage, "vonage")
    if s.auth == "jwt":
        key = res.secret("provider.vonage.private_key_env", s.private_key_env)
        return VonageProvider(s, res.http, private_key=key)
    secret = res.secret("provider.vonage.api_secret_env", s.api_secret_env)
    return VonageProvider(s, res.http, api_secret=secret)


def build_webhook(settings: ProviderSettings, res: Resources) -> VonageWebhook:
    """Vonage's callback verifier (signed JWTs, keyed with the signature secret)."""
    s = section(settings.vonage, "vonage")
    secret = res.secret("provider.vonage.signature_secret_env", s.signature_secret_env)
    return VonageWebhook(s, secret)
