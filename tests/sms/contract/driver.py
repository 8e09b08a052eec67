"""The driver interface: what the contract suite needs to know about one vendor.

A driver serves the vendor's local fake, builds the real adapter against it, and says how
that vendor answers each :class:`Scenario` — in the vendor's own shape — or, where the
vendor has no such answer, a :class:`Gap` naming the vendor document that says so.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import aiohttp

from asterisk_textback.sms.base import OutboundSms, Provider
from tests.sms.contract.kits import Kit

SMS = OutboundSms(
    message_id=1,
    idempotency_key="default:1700000000.1:textback",
    to="+12125550147",
    sender="+15550100001",
    body="Sorry we missed your call. Reply here or call back.",
)
#: The adapter's timeout in the contract, and how late the fake answers to exceed it.
TIMEOUT, LATE = 0.5, 1.2


class Scenario(StrEnum):
    """One situation every adapter must map onto the same outcome."""

    SUCCESS = "success"
    INVALID_NUMBER = "invalid_number"
    LANDLINE = "landline"
    OPTED_OUT = "opted_out"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    REFUSED = "connection_refused"
    MALFORMED_2XX = "malformed_2xx"
    AUTH_FAILURE = "auth_failure"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the fake answers: a status, a JSON body (or raw text), headers, a delay."""

    status: int
    body: Any = None
    raw: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Gap:
    """The vendor has no answer to the send for this scenario.

    ``reason`` names the vendor document. ``callback_code`` is the documented equivalent:
    the error code of the failed-delivery callback that carries the verdict instead.
    """

    reason: str
    callback_code: str | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """What a request to the vendor carried, with numbers back in E.164."""

    to: str
    sender: str
    body: str


def _e164(value: Any) -> str:
    value = value[0] if isinstance(value, list) else value
    text = str(value)
    return "+" + text if text.isdigit() else text


class Driver(ABC):
    """Drives one vendor's fake and adapter for the contract suite."""

    #: Test id; ``provider`` is the adapter's name (several drivers may share one).
    id: str
    provider: str
    #: The fake's ``Reply`` class and the name of its raw-text field.
    reply_type: type[Any]
    raw_field = "raw"
    #: Attribute of the fake holding its base URL, and the list of recorded requests.
    url_attr = "url"
    records_attr = "requests"
    #: Keys of the recipient, sender and text in one recorded request.
    fields: tuple[str, str, str] = ("to", "from", "text")
    #: Status of an accepted send.
    ok_status = 200
    #: True when any 2xx means "accepted" and the vendor's id is optional (then a body
    #: that cannot be read still returns the outbox key: no crash, no resend).
    id_optional = False
    #: A substring of what ``verify()`` says on a working account; None: no ``verify``.
    verify_says: str | None = None
    #: Why ``verify`` cannot catch wrong credentials, naming the vendor document.
    verify_gap = ""
    #: The vendor's webhook kit, or why it has none.
    kit: Kit | None = None
    no_kit_reason = ""

    @abstractmethod
    def serve(self) -> AbstractAsyncContextManager[Any]:
        """Run the vendor's local fake."""

    @abstractmethod
    def build(
        self, http: aiohttp.ClientSession, base_url: str, *, good_credentials: bool = True
    ) -> Provider:
        """The real adapter pointed at ``base_url`` (with wrong credentials if asked)."""

    @abstractmethod
    def accepted(self, message_id: str) -> Answer:
        """The vendor's answer to an accepted send, carrying ``message_id``."""

    @abstractmethod
    def answers(self) -> Mapping[Scenario, Answer | Gap]:
        """The vendor's own answers to the error scenarios it has."""

    def base_url(self, fake: Any) -> str:
        """Where the fake listens."""
        return str(getattr(fake, self.url_attr))

    def answer(self, scenario: Scenario) -> Answer | Gap | None:
        """The scripted answer for ``scenario`` (None: not scripted, see the test)."""
        if scenario is Scenario.TIMEOUT:
            return replace(self.accepted("too-late"), delay=LATE)
        if scenario is Scenario.MALFORMED_2XX:
            return Answer(self.ok_status, raw="<html><body>Accepted</body></html>")
        return self.answers().get(scenario)

    def script(self, fake: Any, answer: Answer) -> None:
        """Queue ``answer`` as the fake's next reply."""
        reply = self.reply_type(
            status=answer.status,
            body=answer.body,
            headers=dict(answer.headers),
            delay=answer.delay,
            **{self.raw_field: answer.raw},
        )
        fake.script.append(reply)

    def sent(self, fake: Any) -> list[Sent]:
        """Every send request the fake received."""
        to, sender, body = self.fields
        records = getattr(fake, self.records_attr)
        return [Sent(_e164(r[to]), _e164(r[sender]), str(r[body])) for r in records]
