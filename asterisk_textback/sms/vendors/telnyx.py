"""Telnyx adapter: v2 Messages API, Ed25519-signed webhooks and number lookup.

Shapes and codes from https://developers.telnyx.com/docs/messaging (send, error-codes,
receiving-webhooks), .../api-fundamentals/idempotency and .../identity/number-lookup.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import aiohttp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import AliasPath, Field

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
    compact_json,
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
from asterisk_textback.sms.lookup import LineLookup, line_lookup
from asterisk_textback.sms.resources import Resources, section
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.sms.settings.telnyx import TelnyxSettings as TelnyxSettings
from asterisk_textback.sms.settings.telnyx import public_key_bytes
from asterisk_textback.sms.vendors.lookup_telnyx import LineType as LineType
from asterisk_textback.sms.vendors.lookup_telnyx import NumberRecord
from asterisk_textback.sms.wire import epoch

R = TypeVar("R", bound=Model)

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


class _Error(Model):
    """One entry of Telnyx's ``errors`` array (API refusals and failed deliveries)."""

    code: str | int | None = None
    title: str | None = None
    detail: str | None = None

    def verdict(self) -> Verdict:
        """The code, its words, and what Telnyx's code table says it means."""
        code = None if self.code is None else str(self.code)
        words = " – ".join(w for w in (self.title, self.detail) if w)
        return Verdict(code, words, CODES.get(code or ""))


class _Errors(Model):
    errors: tuple[_Error, ...] = ()


def verdict(reply: Reply) -> Verdict:
    """Telnyx's code table applied to the first error of a refusal."""
    found = reply.parsed(_Errors)
    return found.errors[0].verdict() if found and found.errors else Verdict()


class _Sent(Accepted):
    """``{"data": {"id": …}}``: the accepted message."""

    id: str = Field(min_length=1, validation_alias=AliasPath("data", "id"))


class _Account(Model):
    """A messaging profile (``name``, ``enabled``) or the balance, as ``verify`` reads them."""

    name: str | None = None
    enabled: bool | None = None
    balance: Any = None
    currency: Any = None
    available_credit: Any = None


class _Envelope(Model, Generic[R]):
    """``{"data": …}``, the envelope of every Telnyx answer."""

    data: R


DIALECT = Dialect(
    "telnyx",
    # 402 is Telnyx's "insufficient funds" (error 20100): the account, not the number.
    statuses={402: ProviderAuthError, 404: ProviderAuthError},
    refusal=verdict,
    accepted=_Sent,
)


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
        auth = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._http = Client(session, DIALECT, settings.timeout_seconds, auth)
        self._base = str(settings.api_base_url).rstrip("/")

    def payload(self, sms: OutboundSms) -> dict[str, str]:
        """The JSON body of ``POST /v2/messages`` for ``sms``."""
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
        return payload

    async def send(self, sms: OutboundSms) -> SendResult:
        """Hand one text to Telnyx; map its answer onto our provider errors."""
        # Serialised once, compactly: a retry must repeat the body byte for byte, or
        # Telnyx treats the reused idempotency key as a conflict (422).
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: _idempotency_key(sms.idempotency_key),
        }
        body = compact_json(self.payload(sms))
        ident = await self._http.send(f"{self._base}/v2/messages", data=body, headers=headers)
        return SendResult(self.name, ident)

    async def _read(self, path: str, model: type[R], fix: str | None = None) -> R:
        reply = await self._http.read(self._base + path, fix=fix)
        found = reply.parsed(_Envelope[model])  # type: ignore[valid-type]
        if found is None:
            raise ProviderError(f"telnyx: GET {path} answered without data")
        return found.data

    async def lookup(self, number: str) -> LineType:
        """Line type of ``number`` (E.164) via ``GET /v2/number_lookup/{number}?type=carrier``."""
        path = f"/v2/number_lookup/{quote(number, safe='+')}?type=carrier"
        return (await self._read(path, NumberRecord)).line_type(number)

    async def verify(self) -> str:
        """A read that proves the key: the messaging profile if configured, else the balance."""
        profile = self._settings.messaging_profile_id
        fix = f"check the API v2 key in {self._settings.api_key_env}"
        if not profile:
            b = await self._read("/v2/balance", _Account, fix)
            return (
                f"account balance {b.balance} {b.currency}, available credit {b.available_credit}"
            )
        fix += " and provider.telnyx.messaging_profile_id"
        path = f"/v2/messaging_profiles/{quote(profile, safe='')}"
        record = await self._read(path, _Account, fix)
        name = record.name or profile
        if record.enabled is False:
            raise ProviderAuthError(
                f"telnyx: messaging profile {name!r} is disabled: enable it in Mission Control"
            )
        return f"messaging profile {name!r} enabled"

    async def close(self) -> None:
        """The shared session is closed by its owner."""


class _Address(Model):
    phone_number: str | None = None
    status: str | None = None


class _Message(Model):
    """The ``payload`` of a messaging event (only the fields we read)."""

    id: str | None = None
    text: str | None = None
    sender: _Address | list[_Address] | None = Field(default=None, alias="from")
    to: _Address | list[_Address] | None = None
    errors: tuple[_Error, ...] = ()

    def address(self, key: str) -> _Address:
        """The first ``from``/``to`` address (Telnyx sends ``to`` as a list)."""
        value = self.sender if key == "from" else self.to
        value = value[0] if isinstance(value, list) and value else value
        if isinstance(value, _Address):
            return value
        raise WebhookPayloadError(f"telnyx webhook: {key!r} has no address")


def _required(value: str | None, key: str) -> str:
    if not value:
        raise WebhookPayloadError(f"telnyx webhook: {key!r} missing")
    return value


class _Event(Model):
    event_type: str | None = None
    occurred_at: Any = None
    payload: dict[str, Any] | None = None


class _Callback(Model):
    """A webhook body: ``{"data": {"event_type", "occurred_at", "payload"}}``."""

    data: _Event


class TelnyxWebhook:
    """Verifies (Ed25519 over ``timestamp|body``) and parses Telnyx messaging webhooks."""

    name = "telnyx"

    def __init__(self, public_key: str, tolerance_seconds: float = 300.0) -> None:
        try:
            self._key = Ed25519PublicKey.from_public_bytes(public_key_bytes(public_key))
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
        data = parse_body(_Callback, request.body, "telnyx webhook").data
        if data.event_type not in ("message.received", "message.sent", "message.finalized"):
            return []  # other event types carry nothing we act on
        if data.payload is None:
            raise WebhookPayloadError("telnyx webhook: 'payload' is not an object")
        msg = parse_body(_Message, data.payload, "telnyx webhook")
        at = epoch(data.occurred_at)
        if data.event_type == "message.received":
            ident = _required(msg.id, "id")
            sender = _required(msg.address("from").phone_number, "phone_number")
            to = _required(msg.address("to").phone_number, "phone_number")
            return [InboundSms(self.name, ident, sender, to, msg.text or "", at)]
        state = _STATES.get(str(msg.address("to").status))
        if state is None:
            return []  # a status we do not track
        ident = _required(msg.id, "id")
        said = msg.errors[0].verdict() if msg.errors else Verdict()
        failure = (said.kind or _F.OTHER) if state in _FAILED else None
        return [DeliveryReport(self.name, ident, state, said.code, said.words or None, failure, at)]


def build(settings: ProviderSettings, res: Resources) -> TelnyxProvider:
    """The Telnyx adapter of ``[provider.telnyx]``."""
    s = section(settings.telnyx, "telnyx")
    return TelnyxProvider(s, res.http, res.secret("provider.telnyx.api_key_env", s.api_key_env))


def build_webhook(settings: ProviderSettings, res: Resources) -> TelnyxWebhook:
    """Telnyx's callback verifier (the account's Ed25519 public key)."""
    s = section(settings.telnyx, "telnyx")
    if s.public_key is None:
        raise ConfigError("provider.telnyx.public_key: needed to verify Telnyx webhooks")
    return TelnyxWebhook(s.public_key, s.webhook_tolerance_seconds)


def build_lookup(settings: ProviderSettings, res: Resources) -> LineLookup:
    """Telnyx number lookup as the line-type check before a first text."""
    return line_lookup(build(settings, res).lookup)
