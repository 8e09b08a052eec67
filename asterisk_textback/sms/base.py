"""The provider interface every SMS adapter implements."""

from __future__ import annotations

from dataclasses import dataclass
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
