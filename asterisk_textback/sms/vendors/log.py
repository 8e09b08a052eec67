"""The ``log`` provider: the embedded default. It records the text and sends nothing."""

from __future__ import annotations

import logging

from asterisk_textback.logs.mask import phone
from asterisk_textback.sms.base import OutboundSms, SendResult
from asterisk_textback.sms.resources import Resources
from asterisk_textback.sms.settings import ProviderSettings

log = logging.getLogger(__name__)


class LogProvider:
    """Writes each text to the log; the outbox row keeps the full record."""

    name = "log"

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, sms: OutboundSms) -> SendResult:
        """Log the text instead of sending it."""
        self.sent += 1
        log.info(
            "text (not sent, log provider) to %s from %s: %s", phone(sms.to), sms.sender, sms.body
        )
        return SendResult(provider=self.name, provider_message_id=f"log-{sms.idempotency_key}")

    async def close(self) -> None:
        """Nothing to release."""


def build(settings: ProviderSettings, res: Resources) -> LogProvider:
    """The ``log`` provider needs nothing from the config."""
    return LogProvider()
