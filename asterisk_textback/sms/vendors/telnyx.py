"""Telnyx adapter: v2 Messages API, Ed25519-signed webhooks and number lookup.

Shapes and codes from https://developers.telnyx.com/docs/messaging (send, error-codes,
receiving-webhooks), .../api-fundamentals/idempotency and .../identity/number-lookup.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn
from urllib.parse import quote

import aiohttp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

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
from asterisk_textback.sms._http import retry_after
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

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_:-]{1,255}")  # Telnyx's documented key format
_TIMESTAMP = re.compile(r"[0-9]{1,12}")

_F = FailureKind
#: Telnyx error codes (API ``errors[].code`` and delivery ``errors[].code``) -> meaning.
#: Codes not listed are ``OTHER``: neither retried blindly nor held against the contact.
CODES: Mapping[str, FailureKind] = {
    "40300": _F.OPTED_OUT,  # Blocked due to STOP message (block rule on the profile)
    "40001": _F.NUMBER,  # Not routable: landline or non-routable number
    "40012": _F.NUMBER,  # Invalid messaging destination number
    "40310": _F.NUMBER,  # Invalid 'to' address
    "40301": _F.NUMBER,  # Unsupported message type for the 'to' address (we only send SMS)
    "40319": _F.NUMBER,  # Incompatible message type for the 'to' address
    "10002": _F.NUMBER,  # Invalid phone number
    "10009": _F.AUTH,  # Authentication failed
    "10010": _F.AUTH,  # Authorization failed
    "20100": _F.AUTH,  # Insufficient funds
    "40003": _F.AUTH,  # Sending number permanently blocked as spam
    "40010": _F.AUTH,  # Unregistered 10DLC message: register a campaign
    "40013": _F.AUTH,  # Invalid messaging source number
    "40100": _F.AUTH,  # Number not messaging enabled
    "40150": _F.AUTH,  # Toll-free number not in voice registry
    "40151": _F.AUTH,  # Message enablement pending with other provider
    "40305": _F.AUTH,  # Invalid 'from' address (not on the messaging profile)
    "40306": _F.AUTH,  # Alpha sender not configured
    "40311": _F.AUTH,  # Invalid messaging profile secret
    "40312": _F.AUTH,  # Messaging profile is disabled
    "40313": _F.AUTH,  # Missing messaging profile secret
    "40314": _F.AUTH,  # Messaging disabled on account
    "40315": _F.AUTH,  # Unhealthy 'from' address
    "40321": _F.AUTH,  # No usable numbers on messaging profile
    "40329": _F.AUTH,  # Toll-free number not yet verified
    "10007": _F.TRANSIENT,  # Unexpected error
    "10008": _F.TRANSIENT,  # Request timeout
    "10011": _F.TRANSIENT,  # Too many requests
    "40002": _F.TRANSIENT,  # Blocked as spam (temporary)
    "40004": _F.TRANSIENT,  # Rejected by destination: retry after delay
    "40005": _F.TRANSIENT,  # Message expired during transmission
    "40006": _F.TRANSIENT,  # Recipient server unavailable
    "40011": _F.TRANSIENT,  # Upstream rate limit
    "40014": _F.TRANSIENT,  # Expired in queue
    "40016": _F.TRANSIENT,  # T-Mobile 10DLC daily limit
    "40018": _F.TRANSIENT,  # AT&T 10DLC sending limit
    "40318": _F.TRANSIENT,  # Message queue full
    "40320": _F.TRANSIENT,  # 'from' temporarily unusable (purchase pending)
}

_STATES: Mapping[str, DeliveryState] = {
    "queued": DeliveryState.ACCEPTED,
    "sending": DeliveryState.ACCEPTED,
    "sent": DeliveryState.SENT,
    "delivery_unconfirmed": DeliveryState.SENT,  # terminal, but the carrier gave no receipt
    "delivered": DeliveryState.DELIVERED,
    "sending_failed": DeliveryState.FAILED,
    "delivery_failed": DeliveryState.UNDELIVERED,
    "expired": DeliveryState.UNDELIVERED,
}
_FAILED = frozenset({DeliveryState.FAILED, DeliveryState.UNDELIVERED})
_ALIASES = {"fixed_line": "landline", "wireline": "landline", "wireless": "mobile"}
_NO_SMS = frozenset({"landline", "pager", "premium_rate", "shared_cost", "uan", "voicemail"})


def _public_key(value: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a base64 Ed25519 public key (32 bytes)") from exc


class TelnyxSettings(BaseModel):
    """The ``[provider.telnyx]`` section."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Name of the environment variable holding the API v2 key (sent as a Bearer token).
    api_key_env: str = "TELNYX_API_KEY"
    #: Used for number-pool/alphanumeric sending, and alone when a text has no sender.
    messaging_profile_id: str | None = None
    #: Per-message status callback URL (else the messaging profile's webhook is used).
    webhook_url: HttpUrl | None = None
    #: The account's public key (base64, Mission Control > Keys & Credentials).
    public_key: str | None = None
    webhook_tolerance_seconds: float = Field(default=300.0, gt=0)
    api_base_url: HttpUrl = HttpUrl("https://api.telnyx.com")
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("public_key")
    @classmethod
    def _valid_key(cls, value: str | None) -> str | None:
        if value is not None:
            _public_key(value)
        return value


@dataclass(frozen=True, slots=True)
class LineType:
    """What a number lookup says about one number."""

    number: str
    #: ``mobile``, ``landline``, ``voip``, ``toll_free``, … (Telnyx's type, snake_cased).
    line_type: str
    #: False for types that cannot take texts, None when the type does not tell.
    sms_capable: bool | None
    carrier: str | None = None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _code_words(error: object) -> tuple[str | None, str]:
    first = _dict(error)
    words = " – ".join(str(first[k]) for k in ("title", "detail") if first.get(k))
    return (None if first.get("code") is None else str(first["code"])), words


def _first_error(text: str) -> tuple[str | None, str]:
    try:
        errors = _dict(json.loads(text)).get("errors") if text else None
    except ValueError:
        return None, text[:200]
    if not isinstance(errors, list) or not errors:
        return None, text[:200]
    return _code_words(errors[0])


def _raise_for(status: int, headers: Mapping[str, str], text: str) -> NoReturn:
    code, words = _first_error(text)
    detail = f"telnyx: HTTP {status} [{code or '-'}] {words}".strip()
    kind = CODES.get(code or "")
    if kind is _F.OPTED_OUT:
        raise ProviderOptedOutError(detail)
    if kind is _F.NUMBER:
        raise ProviderNumberError(detail)
    if kind is _F.AUTH:
        raise ProviderAuthError(detail)
    if kind is _F.TRANSIENT or status in (408, 429) or status >= 500:
        raise ProviderTransientError(detail, retry_after(headers))
    if status in (401, 403, 404):
        raise ProviderAuthError(detail)  # wrong key, account or base URL: stop and tell
    raise ProviderError(detail)


def _idempotency_key(key: str) -> str:
    if _KEY_PATTERN.fullmatch(key):
        return key
    return "tb-" + hashlib.sha256(key.encode()).hexdigest()


class TelnyxProvider:
    """Sends texts with ``POST /v2/messages`` and looks numbers up."""

    name = "telnyx"

    def __init__(
        self, settings: TelnyxSettings, session: aiohttp.ClientSession, api_key: str
    ) -> None:
        self._settings = settings
        self._session = session
        self._auth = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._base = str(settings.api_base_url).rstrip("/")

    async def _call(
        self, method: str, path: str, *, body: bytes | None, headers: Mapping[str, str], safe: bool
    ) -> Any:
        url = self._base + path
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                async with self._session.request(method, url, data=body, headers=headers) as r:
                    status, resp_headers = r.status, r.headers
                    text = (await r.read()).decode("utf-8", "replace")
        except aiohttp.ClientConnectorError as exc:
            # Never connected: nothing can have been sent, a retry is safe.
            raise ProviderTransientError(f"telnyx {url}: {exc!r}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            if safe:  # a read-only call can simply be repeated
                raise ProviderTransientError(f"telnyx {url}: {exc!r}") from exc
            raise ProviderOutcomeUnknownError(f"telnyx {url}: {exc!r}") from exc
        if not 200 <= status < 300:
            _raise_for(status, resp_headers, text)
        try:
            return json.loads(text)
        except ValueError:
            return None

    async def send(self, sms: OutboundSms) -> SendResult:
        """Hand one text to Telnyx; map its answer onto our provider errors."""
        s = self._settings
        payload: dict[str, str] = {"to": sms.to, "text": sms.body}
        if sms.sender:
            payload["from"] = sms.sender
        if s.messaging_profile_id:
            payload["messaging_profile_id"] = s.messaging_profile_id
        if not sms.sender and not s.messaging_profile_id:
            raise ProviderAuthError("telnyx: no sender number and no messaging_profile_id")
        if s.webhook_url is not None:
            payload["webhook_url"] = str(s.webhook_url)
        # Serialised once, compactly: a retry must repeat the body byte for byte, or
        # Telnyx treats the reused idempotency key as a conflict (422).
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            **self._auth,
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: _idempotency_key(sms.idempotency_key),
        }
        data = await self._call("POST", "/v2/messages", body=body, headers=headers, safe=False)
        record = data.get("data") if isinstance(data, dict) else None
        ident = record.get("id") if isinstance(record, dict) else None
        if not isinstance(ident, str) or not ident:
            # Accepted (2xx) but unreadable: it may well be on its way, so never resend.
            raise ProviderOutcomeUnknownError("telnyx: 2xx without data.id")
        return SendResult(self.name, ident)

    async def lookup(self, number: str) -> LineType:
        """Line type of ``number`` (E.164) via ``GET /v2/number_lookup/{number}?type=carrier``."""
        path = f"/v2/number_lookup/{quote(number, safe='+')}?type=carrier"
        data = await self._call("GET", path, body=None, headers=self._auth, safe=True)
        record = data.get("data") if isinstance(data, dict) else None
        if not isinstance(record, dict):
            raise ProviderError("telnyx: number lookup answered without data")
        carrier, porting = _dict(record.get("carrier")), _dict(record.get("portability"))
        raw = str(carrier.get("type") or porting.get("line_type") or "unknown")
        kind = raw.strip().lower().replace(" ", "_").replace("-", "_")
        kind = _ALIASES.get(kind, kind)
        capable = True if kind == "mobile" else (False if kind in _NO_SMS else None)
        name = carrier.get("name")
        return LineType(number, kind, capable, name if isinstance(name, str) else None)

    async def verify(self) -> str:
        """A read that proves the key: the messaging profile if configured, else the balance."""
        profile = self._settings.messaging_profile_id
        path = "/v2/balance" if not profile else f"/v2/messaging_profiles/{quote(profile, safe='')}"
        try:
            data = await self._call("GET", path, body=None, headers=self._auth, safe=True)
        except ProviderAuthError as exc:
            fix = f"check the API v2 key in {self._settings.api_key_env}"
            if profile:
                fix += " and provider.telnyx.messaging_profile_id"
            raise ProviderAuthError(f"{exc}; fix: {fix}") from None
        record = data.get("data") if isinstance(data, dict) else None
        if not isinstance(record, dict):
            raise ProviderError(f"telnyx: GET {path} answered without data")
        if not profile:
            return (
                f"account balance {record.get('balance')} {record.get('currency')}, "
                f"available credit {record.get('available_credit')}"
            )
        name = record.get("name") or profile
        if record.get("enabled") is False:
            raise ProviderAuthError(
                f"telnyx: messaging profile {name!r} is disabled: enable it in Mission Control"
            )
        return f"messaging profile {name!r} enabled"

    async def close(self) -> None:
        """The shared session is closed by its owner."""


def _epoch(value: object) -> float | None:
    try:
        stamp = datetime.fromisoformat(value if isinstance(value, str) else "")
    except ValueError:
        return None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def _obj(parent: Any, key: str) -> dict[str, Any]:
    value = _dict(parent).get(key)
    if not isinstance(value, dict):
        raise WebhookPayloadError(f"telnyx webhook: {key!r} is not an object")
    return value


def _text(parent: Mapping[str, Any], key: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise WebhookPayloadError(f"telnyx webhook: {key!r} missing")
    return value


def _first(payload: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    value = value[0] if isinstance(value, list) and value else value
    if isinstance(value, dict):
        return value
    raise WebhookPayloadError(f"telnyx webhook: {key!r} has no address")


class TelnyxWebhook:
    """Verifies (Ed25519 over ``timestamp|body``) and parses Telnyx messaging webhooks."""

    name = "telnyx"

    def __init__(self, public_key: str, tolerance_seconds: float = 300.0) -> None:
        try:
            self._key = _public_key(public_key)
        except ValueError as exc:
            raise ConfigError(f"provider.telnyx.public_key: {exc}") from None
        self._tolerance = tolerance_seconds

    def verify(self, request: WebhookRequest, now: float) -> None:
        """Raise :class:`WebhookAuthError` unless Telnyx signed this body recently."""
        signature = request.header(SIGNATURE_HEADER)
        stamp = request.header(TIMESTAMP_HEADER)
        if not signature or not stamp:
            raise WebhookAuthError("telnyx webhook: signature headers missing")
        if not _TIMESTAMP.fullmatch(stamp.strip()):
            raise WebhookAuthError("telnyx webhook: malformed timestamp")
        # Both directions: accepting future stamps would make a captured call replayable.
        if abs(now - int(stamp)) > self._tolerance:
            raise WebhookAuthError("telnyx webhook: timestamp outside the tolerance")
        try:
            raw = base64.b64decode(signature.strip(), validate=True)
            self._key.verify(raw, stamp.strip().encode() + b"|" + request.body)
        except (binascii.Error, ValueError, InvalidSignature):
            raise WebhookAuthError("telnyx webhook: bad signature") from None

    def parse(self, request: WebhookRequest, now: float) -> list[WebhookEvent]:
        """The delivery report or inbound text in one verified callback."""
        self.verify(request, now)
        try:
            doc = json.loads(request.body)
        except ValueError as exc:  # includes UnicodeDecodeError
            raise WebhookPayloadError("telnyx webhook: body is not JSON") from exc
        data = _obj(doc, "data")
        event = data.get("event_type")
        if event not in ("message.received", "message.sent", "message.finalized"):
            return []  # other event types carry nothing we act on
        payload = _obj(data, "payload")
        at = _epoch(data.get("occurred_at"))
        if event == "message.received":
            return [
                InboundSms(
                    provider=self.name,
                    provider_message_id=_text(payload, "id"),
                    from_number=_text(_first(payload, "from"), "phone_number"),
                    to_number=_text(_first(payload, "to"), "phone_number"),
                    body=str(payload.get("text") or ""),
                    at=at,
                )
            ]
        state = _STATES.get(str(_first(payload, "to").get("status")))
        if state is None:
            return []
        errors = payload.get("errors")
        code, words = _code_words(errors[0] if isinstance(errors, list) and errors else None)
        failure = CODES.get(code or "", _F.OTHER) if state in _FAILED else None
        return [
            DeliveryReport(
                provider=self.name,
                provider_message_id=_text(payload, "id"),
                state=state,
                error_code=code,
                error_detail=words or None,
                failure=failure,
                at=at,
            )
        ]
