"""Texts over the PBX's own SIP trunk: AMI ``MessageSend`` on the listener's connection.

Asterisk turns ``MessageSend`` into a SIP MESSAGE (``Content-Type: text/plain``) to the trunk
endpoint; carriers that carry SMS on the trunk deliver it. AMI reports no delivery status:
``Success`` means Asterisk handed the message to PJSIP.
"""

from __future__ import annotations

import base64

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.types import ConnectionState
from asterisk_textback.errors import (
    AmiActionError,
    AmiError,
    AmiNotConnectedError,
    AmiPermissionError,
    ConfigError,
    ProviderAuthError,
    ProviderOutcomeUnknownError,
    ProviderTransientError,
)
from asterisk_textback.sms.base import OutboundSms, SendResult
from asterisk_textback.sms.resources import Resources
from asterisk_textback.sms.settings import ProviderSettings, SipTrunkSettings


class SipTrunkProvider:
    """Sends each text as an AMI ``MessageSend`` on the already logged-in connection."""

    name = "sip_trunk"

    def __init__(self, settings: SipTrunkSettings, connection: AmiConnection) -> None:
        self._settings = settings
        self._connection = connection

    def _number(self, e164: str) -> str:
        return e164 if self._settings.plus_prefix else e164.lstrip("+")

    def action(self, sms: OutboundSms) -> dict[str, str]:
        """The AMI action for one text (Base64Body: AMI headers cannot carry newlines)."""
        s = self._settings
        return {
            "Action": "MessageSend",
            "To": f"pjsip:{s.endpoint}/sip:{self._number(sms.to)}@{s.carrier_host}",
            "From": f"sip:{self._number(sms.sender)}@{s.from_host}",
            "Base64Body": base64.b64encode(sms.body.encode()).decode("ascii"),
        }

    async def send(self, sms: OutboundSms) -> SendResult:
        """Send one text; map AMI refusals onto provider errors."""
        if self._connection.state is not ConnectionState.READY:
            # Not sent: the connection is down; the outbox retries after a backoff.
            raise ProviderTransientError(f"AMI connection is {self._connection.state}")
        try:
            reply = await self._connection.send_action(self.action(sms))
        except AmiNotConnectedError as exc:
            raise ProviderTransientError(str(exc)) from exc
        except AmiPermissionError as exc:
            raise ProviderAuthError(
                f"the AMI user may not send messages: add 'message' to its write= classes ({exc})"
            ) from exc
        except AmiActionError as exc:
            # Asterisk refused before any SIP went out: the endpoint/URI is wrong for every
            # text, so pause and say what to fix.
            raise ProviderAuthError(
                f"Asterisk could not send over PJSIP endpoint {self._settings.endpoint!r}: "
                f"check provider.sip_trunk ({exc})"
            ) from exc
        except AmiError as exc:
            # Cut mid-action or no answer: Asterisk may have sent it.
            raise ProviderOutcomeUnknownError(str(exc)) from exc
        return SendResult(self.name, reply.get("ActionID", sms.idempotency_key))

    async def close(self) -> None:
        """The AMI connection belongs to the listener."""


def build(settings: ProviderSettings, res: Resources) -> SipTrunkProvider:
    """Texts over the trunk need ``[provider.sip_trunk]`` and the listener's AMI link."""
    if settings.sip_trunk is None or res.ami is None:
        raise ConfigError("provider.sip_trunk: needs [provider.sip_trunk] and an AMI connection")
    return SipTrunkProvider(settings.sip_trunk, res.ami)
