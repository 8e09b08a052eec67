"""Helpers for the inbound tests: stored calls, a fake signing adapter, local servers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import ssl
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import Direction, Outcome, Reason
from asterisk_textback.errors import WebhookAuthError, WebhookPayloadError
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.decision import Action as DecisionAction
from asterisk_textback.sms.base import (
    DeliveryReport,
    DeliveryState,
    FailureKind,
    InboundSms,
    WebhookEvent,
    WebhookRequest,
)
from asterisk_textback.store.models import Call, Message

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
CALLER = "+12125550147"
DID = "+15550100001"


async def add_call(
    sessions: async_sessionmaker[AsyncSession],
    *,
    caller: str = CALLER,
    linkedid: str = "1700000000.1",
    ended_at: datetime = T0,
    outcome: Outcome = Outcome.MISSED_VOICEMAIL,
    mailbox: str | None = "100@default",
    texted: MessageStatus | None = MessageStatus.SENT,
    name: str = "Jane Roe",
) -> Call:
    """A stored missed call, texted back (message ``texted``) unless that is None."""
    async with sessions() as session:
        call = Call(
            pbx="default",
            linkedid=linkedid,
            direction=Direction.INBOUND,
            outcome=outcome,
            reason=Reason.NO_ANSWER,
            caller_number=caller,
            caller_e164=caller,
            caller_name=name,
            did=DID,
            queue=None,
            mailbox=mailbox,
            answered_by=None,
            started_at=ended_at,
            ended_at=ended_at,
            ring_seconds=20.0,
            action=DecisionAction.SEND,
            created_at=ended_at,
        )
        session.add(call)
        await session.flush()
        if texted is not None:
            session.add(
                Message(
                    idempotency_key=f"default:{linkedid}:textback",
                    call_id=call.id,
                    kind="textback",
                    to_e164=caller,
                    sender=DID,
                    body="Sorry we missed you",
                    segments=1,
                    encoding="GSM-7",
                    status=texted,
                    send_at=ended_at,
                    attempts=1,
                    next_attempt_at=ended_at,
                    created_at=ended_at,
                    updated_at=ended_at,
                )
            )
        await session.commit()
        return call


# --- a fake provider adapter: HMAC-SHA256 over URL + body, JSON events ---------------------

FAKE_KEY = b"fake-provider-key"
FAKE_SIGNATURE = "X-Fake-Signature"


def fake_sign(url: str, body: bytes, key: bytes = FAKE_KEY) -> str:
    """The signature the fake provider sends."""
    return hmac.new(key, url.encode() + body, hashlib.sha256).hexdigest()


class FakeAdapter:
    """A provider whose callbacks are JSON signed with HMAC-SHA256 over URL + body."""

    name = "fake"
    credential_headers = (FAKE_SIGNATURE,)

    def __init__(self, key: bytes = FAKE_KEY) -> None:
        self.key = key
        self.urls: list[str] = []

    def parse(self, request: WebhookRequest, now: float) -> list[WebhookEvent]:
        """Verify the signature, then read the JSON events."""
        self.urls.append(request.url)
        signature = request.header(FAKE_SIGNATURE)
        if not signature:
            raise WebhookAuthError("no signature")
        if not hmac.compare_digest(signature, fake_sign(request.url, request.body, self.key)):
            raise WebhookAuthError("bad signature")
        try:
            data = json.loads(request.body)
            return [self._event(item) for item in data["events"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookPayloadError(str(exc)) from None

    def _event(self, item: dict[str, Any]) -> WebhookEvent:
        if item["type"] == "inbound":
            return InboundSms("fake", item["id"], item["from"], item["to"], item["body"])
        failure = item.get("failure")
        return DeliveryReport(
            "fake",
            item["id"],
            DeliveryState(item["state"]),
            error_code=item.get("code"),
            failure=None if failure is None else FailureKind(failure),
        )


def inbound_event(msg_id: str, body: str, sender: str = CALLER, to: str = DID) -> dict[str, str]:
    """One inbound text in the fake provider's JSON."""
    return {"type": "inbound", "id": msg_id, "from": sender, "to": to, "body": body}


# --- a small SMTP server (enough of RFC 5321, STARTTLS and AUTH PLAIN) ---------------------


@dataclass
class Mail:
    """One message the SMTP server accepted."""

    sender: str
    recipients: list[str]
    data: bytes
    tls: bool
    user: str | None


@dataclass
class SmtpServer:
    """Accepts mail on 127.0.0.1; optional STARTTLS and a required login."""

    tls: ssl.SSLContext | None = None
    login: tuple[str, str] | None = None
    fail: bool = False
    mails: list[Mail] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on a free port."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening."""
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        in_tls = False
        user: str | None = None
        sender = ""
        rcpts: list[str] = []
        say("220 localhost ESMTP test")
        try:
            while line := await reader.readline():
                verb, _, arg = line.decode().strip().partition(" ")
                verb = verb.upper()
                if verb in ("EHLO", "HELO"):
                    caps = ["localhost", "8BITMIME"]
                    if self.tls is not None and not in_tls:
                        caps.append("STARTTLS")
                    if self.login is not None:
                        caps.append("AUTH PLAIN")
                    for cap in caps[:-1]:
                        say(f"250-{cap}")
                    say(f"250 {caps[-1]}")
                elif verb == "STARTTLS" and self.tls is not None:
                    say("220 go ahead")
                    await writer.drain()
                    await writer.start_tls(self.tls)
                    in_tls = True
                elif verb == "AUTH":
                    _, _, blob = arg.partition(" ")
                    _, name, password = base64.b64decode(blob).decode().split("\0")
                    if (name, password) == self.login:
                        user = name
                        say("235 authenticated")
                    else:
                        say("535 bad credentials")
                elif verb == "MAIL":
                    if self.login is not None and user is None:
                        say("530 authentication required")
                        continue
                    sender, rcpts = arg.partition(":")[2].strip("<> "), []
                    say("250 ok")
                elif verb == "RCPT":
                    rcpts.append(arg.partition(":")[2].strip("<> "))
                    say("250 ok")
                elif verb == "DATA":
                    say("354 end with .")
                    await writer.drain()
                    data = b""
                    while (chunk := await reader.readline()) not in (b".\r\n", b""):
                        data += chunk
                    if self.fail:
                        say("451 try again later")
                    else:
                        self.mails.append(Mail(sender, rcpts, data, in_tls, user))
                        say("250 queued")
                elif verb == "QUIT":
                    say("221 bye")
                    break
                else:
                    say("250 ok" if verb in ("RSET", "NOOP") else "502 not implemented")
                await writer.drain()
        finally:
            writer.close()


def self_signed() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_path.write_bytes(cert_pem)
        key_path.write_bytes(key_pem)
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client
