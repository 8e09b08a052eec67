"""The provider interface every SMS adapter implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutboundSms:
    """One text to send, as committed in the outbox."""

    message_id: int
    idempotency_key: str
    to: str
    sender: str
    body: str
    segments: int = 1
    encoding: str = "GSM-7"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider said when it accepted a text."""

    provider: str
    provider_message_id: str


class Provider(Protocol):
    """Sends one text or raises a :class:`~asterisk_textback.errors.ProviderError` subclass."""

    name: str

    async def send(self, sms: OutboundSms) -> SendResult:
        """Hand one text to the provider; return its id for the text."""
        ...

    async def close(self) -> None:
        """Release connections (the shared HTTP session is closed by its owner)."""
        ...


class DeliveryState(StrEnum):
    """Where a sent text is, per the provider's status callback."""

    ACCEPTED = "accepted"  # queued/accepted at the provider, not yet with the carrier
    SENT = "sent"  # handed to the carrier
    DELIVERED = "delivered"
    FAILED = "failed"  # the provider could not send it
    UNDELIVERED = "undelivered"  # the carrier could not deliver it


class FailureKind(StrEnum):
    """What a failed delivery means for the contact (mapped from vendor error codes)."""

    TRANSIENT = "transient"
    NUMBER = "number"  # invalid, landline, unreachable: never text this number again
    OPTED_OUT = "opted_out"  # blocked by a STOP at the carrier/provider
    AUTH = "auth"  # account, credentials or sender registration (10DLC, toll-free)
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A status callback: what became of one text we sent."""

    provider: str
    provider_message_id: str
    state: DeliveryState
    error_code: str | None = None
    error_detail: str | None = None
    failure: FailureKind | None = None
    #: Epoch seconds the provider stamped, when it did.
    at: float | None = None


@dataclass(frozen=True, slots=True)
class InboundSms:
    """A text a caller sent to one of our numbers."""

    provider: str
    provider_message_id: str
    from_number: str  # E.164
    to_number: str  # E.164, our number
    body: str
    at: float | None = None


WebhookEvent = DeliveryReport | InboundSms


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A provider's HTTP callback, independent of the web framework.

    ``url`` is the public URL the provider called (rebuilt from ``web.public_base_url``
    behind a reverse proxy), which is what signatures are computed over.
    """

    method: str
    url: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        return self.headers.get(name.lower())


class WebhookAdapter(Protocol):
    """Verifies and parses one provider's callbacks.

    ``parse`` raises :class:`~asterisk_textback.errors.WebhookAuthError` for a forged,
    stale or replayed request (answered 401/403, nothing stored) and
    :class:`~asterisk_textback.errors.WebhookPayloadError` for a malformed body (400).
    """

    name: str

    def parse(self, request: WebhookRequest, now: float) -> list[WebhookEvent]:
        """The delivery reports and inbound texts in one verified callback."""
        ...
