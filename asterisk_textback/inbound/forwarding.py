"""Forward each caller's reply to staff: email (SMTP), an SMS to staff numbers, a webhook.

A reply stays ``forwarded_at IS NULL`` until every configured channel took it; the channels
that succeeded are remembered, so a retry (:meth:`Forwarder.forward_pending`, with backoff)
only repeats the ones that failed. Nothing here reads the environment: secrets come in
through :class:`ForwardingSecrets`.

What staff read is worded in :mod:`.forwarded`; the webhook's JSON keeps the raw values.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, tzinfo
from email.message import EmailMessage
from typing import Protocol
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.callertext import header_value
from asterisk_textback.calls.utc import utc
from asterisk_textback.errors import ConfigError
from asterisk_textback.inbound.forwarded import ForwardedReply
from asterisk_textback.inbound.settings import EmailSettings, ForwardingSettings
from asterisk_textback.store import autoreply
from asterisk_textback.store import inbound as store_inbound
from asterisk_textback.store.models import Call
from asterisk_textback.store.outbox import NewMessage
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.templates.segments import count_segments

log = logging.getLogger(__name__)

__all__ = [
    "SIGNATURE_HEADER",
    "Channel",
    "EmailChannel",
    "Forwarder",
    "ForwardingSecrets",
    "SmsChannel",
    "WebhookChannel",
    "staff_zone",
]

#: ``sha256=<hex HMAC-SHA256 of the body>``, as the generic SMS webhook adapter signs.
SIGNATURE_HEADER = "X-Textback-Signature"


@dataclass(frozen=True, slots=True)
class ForwardingSecrets:
    """Secrets the channels need, resolved once at startup."""

    smtp_password: str | None = None
    webhook_key: bytes | None = None

    @classmethod
    def from_env(
        cls, settings: ForwardingSettings, environ: Mapping[str, str]
    ) -> ForwardingSecrets:
        """Read the variables named by ``*_env`` settings; a named but unset one is an error."""

        def read(key: str, name: str | None) -> str | None:
            if name is None:
                return None
            if not environ.get(name):
                raise ConfigError(f"{key}: environment variable {name} is not set")
            return environ[name]

        email_env = None if settings.email is None else settings.email.password_env
        password = read("forwarding.email.password_env", email_env)
        secret = read("forwarding.hmac_secret_env", settings.hmac_secret_env)
        return cls(password, None if secret is None else secret.encode())


def staff_zone(settings: ForwardingSettings, business_zone: tzinfo) -> tzinfo:
    """The zone times are shown in to staff: ``forwarding.timezone`` when the file sets it,
    else the business's own (``business.timezone``)."""
    if "timezone" in settings.model_fields_set:
        return ZoneInfo(settings.timezone)
    return business_zone


class Channel(Protocol):
    """One way of reaching staff; ``send`` raises on failure."""

    name: str

    async def send(self, reply: ForwardedReply) -> None:
        """Deliver ``reply`` or raise."""
        ...


class EmailChannel:
    """Mails replies through SMTP (stdlib ``smtplib`` in a worker thread)."""

    name = "email"

    def __init__(
        self,
        settings: EmailSettings,
        password: str | None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._settings = settings
        self._password = password
        self._context = ssl_context or ssl.create_default_context()

    def _message(self, reply: ForwardedReply) -> EmailMessage:
        message = EmailMessage()
        # The caller chose their name: one U+2028 in it made every retry raise for 72 h.
        message["Subject"] = header_value(f"Text reply from {reply.who}")
        message["From"] = self._settings.from_address
        message["To"] = ", ".join(self._settings.to)
        message["X-Textback-Reply-Id"] = str(reply.inbound_id)
        message.set_content(reply.text())
        return message

    def _send_sync(self, message: EmailMessage) -> None:
        s = self._settings
        smtp: smtplib.SMTP
        if s.ssl:
            smtp = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_seconds, context=self._context
            )
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        with smtp:
            if s.starttls and not s.ssl:
                smtp.starttls(context=self._context)
            if s.username is not None:
                smtp.login(s.username, self._password or "")
            smtp.send_message(message)

    async def send(self, reply: ForwardedReply) -> None:
        """Send one email; SMTP errors propagate."""
        await asyncio.to_thread(self._send_sync, self._message(reply))


class SmsChannel:
    """Queues each reply in the outbox as a ``forward`` text to every staff number."""

    name = "sms"

    def __init__(
        self,
        settings: ForwardingSettings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], float] = time.time,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self._numbers = settings.sms_to  # checked like any destination (config.Settings)
        self._budget = autoreply.Budget(per_minute=settings.sms_rate_per_minute)
        self._sessions = sessions
        self._clock = clock
        self._on_queued = on_queued

    async def send(self, reply: ForwardedReply) -> None:
        """Queue the texts (idempotent per reply and staff number; over budget: raises)."""
        body = reply.text()
        info = count_segments(body)
        now = utc(self._clock())
        for number in self._numbers:
            new = NewMessage(
                to_e164=number,
                sender=reply.to_e164,
                body=body,
                segments=info.segments,
                encoding=info.encoding,
                send_at=now,
                kind="forward",
            )
            key = f"forward:{reply.inbound_id}:{number}"
            await autoreply.queue(self._sessions, new, key=key, now=now, budget=self._budget)
        if self._on_queued is not None:
            self._on_queued()


class WebhookChannel:
    """POSTs each reply as signed JSON; any non-2xx answer counts as a failure."""

    name = "webhook"

    def __init__(
        self, url: str, http: aiohttp.ClientSession, key: bytes | None, timeout: float
    ) -> None:
        self._url = url
        self._http = http
        self._key = key
        self._timeout = timeout

    async def send(self, reply: ForwardedReply) -> None:
        """POST ``{"type": "reply", …}``; raises on timeout or a non-2xx status."""
        body = json.dumps({"type": "reply", **asdict(reply)}, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"reply:{reply.inbound_id}",
        }
        if self._key is not None:
            digest = hmac.new(self._key, body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        async with asyncio.timeout(self._timeout):
            async with self._http.post(self._url, data=body, headers=headers) as response:
                if response.status // 100 != 2:
                    raise RuntimeError(f"webhook answered HTTP {response.status}")


class Forwarder:
    """Forwards replies through its channels, and retries the ones that failed."""

    def __init__(
        self,
        settings: ForwardingSettings,
        sessions: async_sessionmaker[AsyncSession],
        channels: Sequence[Channel],
        *,
        clock: Callable[[], float] = time.time,
        zone: tzinfo | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._channels = tuple(channels)
        self._clock = clock
        #: Times staff read are in this zone (see :func:`staff_zone`).
        self._zone = zone or ZoneInfo(settings.timezone)

    @classmethod
    def build(
        cls,
        settings: ForwardingSettings,
        sessions: async_sessionmaker[AsyncSession],
        http: aiohttp.ClientSession,
        secrets: ForwardingSecrets,
        *,
        clock: Callable[[], float] = time.time,
        on_queued: Callable[[], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        business_zone: tzinfo | None = None,
    ) -> Forwarder:
        """A forwarder with one channel per configured section.

        Times shown to staff are in ``business_zone`` unless ``forwarding.timezone`` is set.
        """
        channels: list[Channel] = []
        if settings.email is not None:
            channels.append(EmailChannel(settings.email, secrets.smtp_password, ssl_context))
        if settings.sms_to:
            channels.append(SmsChannel(settings, sessions, clock=clock, on_queued=on_queued))
        if settings.webhook_url:
            key, timeout = secrets.webhook_key, settings.timeout_seconds
            channels.append(WebhookChannel(settings.webhook_url, http, key, timeout))
        zone = None if business_zone is None else staff_zone(settings, business_zone)
        return cls(settings, sessions, channels, clock=clock, zone=zone)

    def _now(self) -> datetime:
        return utc(self._clock())

    def _backoff(self, attempts: int) -> timedelta:
        s = self._settings
        delay = s.retry_min_seconds * 2 ** max(0, attempts - 1)
        return timedelta(seconds=min(s.retry_max_seconds, delay))

    async def forward(self, inbound_id: int) -> bool:
        """Forward one reply through the channels it has not reached yet; whether all did."""
        if not self._channels:
            return False
        # The lease outlasts the slowest channel so that a concurrent sweep keeps off.
        lease = timedelta(seconds=4 * max(self._settings.timeout_seconds, 30.0))
        async with unit_of_work(self._sessions) as session:
            row = await store_inbound.claim_forward(
                session, inbound_id, now=self._now(), lease=lease
            )
            if row is None:
                return False
            call = None if row.call_id is None else await session.get(Call, row.call_id)
        reply = ForwardedReply.build(row, call, self._zone)
        done = {name for name in row.forward_done.split(",") if name}
        errors: list[str] = []
        for channel in self._channels:
            if channel.name in done:
                continue
            try:
                await channel.send(reply)
            except Exception as exc:  # any failure is retried later, never lost
                log.warning("forwarding reply %d by %s failed: %r", inbound_id, channel.name, exc)
                errors.append(f"{channel.name}: {exc!r}")
            else:
                done.add(channel.name)
        now = self._now()
        error = "; ".join(errors) or None
        retry_at = now + self._backoff(row.forward_attempts) if error else None
        async with unit_of_work(self._sessions) as session:
            await store_inbound.finish_forward(
                session, inbound_id, now=now, done=sorted(done), error=error, retry_at=retry_at
            )
        return error is None

    async def forward_pending(self, limit: int = 100) -> int:
        """Retry replies whose forwarding is due; how many are now fully forwarded."""
        if not self._channels:
            return 0
        now = self._now()
        since = now - timedelta(hours=self._settings.max_age_hours)
        async with self._sessions() as session:
            ids = await store_inbound.due_forwards(session, now=now, since=since, limit=limit)
        return sum([await self.forward(inbound_id) for inbound_id in ids])
