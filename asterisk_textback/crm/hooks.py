"""CRM hooks: signed JSON webhooks on missed call, text sent, reply, opt-out and booking.

Each event is committed to ``crm_events`` (a row per endpoint that wants it) before it is
posted, so nothing is lost; :class:`CrmDispatcher` retries with backoff. Posts carry:

- ``Idempotency-Key``: the event's key, identical on every retry (``reply:42``);
- ``X-Textback-Event``: the event type;
- ``X-Textback-Timestamp``: unix seconds of this attempt;
- ``X-Textback-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`` — the
  forwarding webhook's header, bound to the timestamp so a captured post cannot be replayed
  later (receivers check it with :func:`verify_signature`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.callertext import header_value
from asterisk_textback.calls.model import MISSED_OUTCOMES, Direction
from asterisk_textback.calls.utc import utc
from asterisk_textback.crm.settings import CrmEventType, CrmSettings
from asterisk_textback.errors import ConfigError
from asterisk_textback.inbound.forwarding import SIGNATURE_HEADER
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.store import crm_outbox
from asterisk_textback.store.calls import get_call
from asterisk_textback.store.leads import text_of_call, texts_with_calls
from asterisk_textback.store.models import Booking, Call, CrmEvent, InboundMessage
from asterisk_textback.store.uow import unit_of_work

if TYPE_CHECKING:  # the pipeline imports the settings this module defines
    from asterisk_textback.textback.handler import CallResult

log = logging.getLogger(__name__)

__all__ = [
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "CrmDispatcher",
    "CrmHooks",
    "CrmSecrets",
    "sign",
    "verify_signature",
]

TIMESTAMP_HEADER: Final = "X-Textback-Timestamp"
EVENT_HEADER: Final = "X-Textback-Event"
#: Outbound kinds that are the text-back itself (not opt-out confirmations or forwards).
_LEAD_KINDS: Final = frozenset({"textback", "agi"})


@dataclass(frozen=True, slots=True)
class CrmSecrets:
    """The endpoints' HMAC keys by endpoint name, read once at startup."""

    keys: Mapping[str, bytes]

    @classmethod
    def from_env(cls, settings: CrmSettings, environ: Mapping[str, str]) -> CrmSecrets:
        """Read every ``secret_env``; an unset or empty one is a ``ConfigError``."""
        keys = {}
        for index, endpoint in enumerate(settings.endpoints):
            value = environ.get(endpoint.secret_env)
            if not value:
                raise ConfigError(
                    f"crm.endpoints[{index}].secret_env: environment variable "
                    f"{endpoint.secret_env} is not set"
                )
            keys[endpoint.name] = value.encode()
        return cls(keys)


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Textback-Signature`` value for ``body`` posted at ``timestamp``."""
    return "sha256=" + hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(
    key: bytes, *, timestamp: str, signature: str, body: bytes, now: float, tolerance: float = 300
) -> bool:
    """Receiver side: whether a post is authentic and fresh (within ``tolerance`` seconds)."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(key, stamp, body), signature.strip())


def _fields(names: str) -> tuple[str, ...]:
    return tuple(names.split())


# The fields each section of the JSON carries, read off the stored rows as they are.
_CALL_FIELDS: Final = _fields(
    "id pbx linkedid caller_number did started_at ended_at outcome reason queue action "
    "suppress_reason template variant"
)
_TEXT_FIELDS: Final = _fields("id body template variant segments sender status sent_at")
_REPLY_FIELDS: Final = _fields("id body to_e164 received_at keyword")
_BOOKING_FIELDS: Final = _fields(
    "id source external_id status value_minor currency booked_at starts_at attributed_by"
)


def _pick(row: Any, fields: Sequence[str]) -> dict[str, Any] | None:
    return None if row is None else {name: getattr(row, name) for name in fields}


class CrmHooks:
    """Where the pipeline reports what happened; each call commits the events, never raises."""

    def __init__(
        self,
        settings: CrmSettings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], float] = time.time,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self._settings, self._sessions, self._clock = settings, sessions, clock
        self._on_queued = on_queued
        self._tasks: set[asyncio.Task[None]] = set()

    async def emit(self, event: CrmEventType, key: str, data: Mapping[str, Any]) -> int:
        """Queue one event for every endpoint that wants it; how many rows were new."""
        wanted = [e for e in self._settings.endpoints if event in e.events]
        if not wanted:
            return 0
        now = utc(self._clock())
        envelope = {
            "event": str(event),
            "id": key,
            "occurred_at": now.isoformat(),
            "lead_source": self._settings.lead_source,
            **data,
        }
        payload = json.dumps(
            envelope, separators=(",", ":"), ensure_ascii=False, default=datetime.isoformat
        )
        rows = [crm_outbox.NewCrmEvent(e.name, key, str(event), payload) for e in wanted]
        async with unit_of_work(self._sessions) as session:
            added = await crm_outbox.add_events(session, rows, now=now)
        if added and self._on_queued is not None:
            self._on_queued()
        return added

    async def _emit(
        self, event: CrmEventType, key: str, phone: str | None, call: Call | None, **more: Any
    ) -> None:
        contact = {"phone": phone, "name": (call.caller_name or None) if call else None}
        try:
            data = {"contact": contact, "call": _pick(call, _CALL_FIELDS), **more}
            await self.emit(event, key, data)
        except Exception:
            # A CRM outage or bug must never stop a call from being texted.
            log.exception("could not queue the CRM %s event %s", event, key)

    async def _load_call(self, call_id: int | None) -> Call | None:
        if call_id is None:
            return None
        async with self._sessions() as session:
            return await session.get(Call, call_id)

    async def call_decided(self, result: CallResult) -> None:
        """After the recorder stored a call: a ``missed_call`` event for inbound missed calls."""
        ended = result.call
        if ended.direction is not Direction.INBOUND or ended.outcome not in MISSED_OUTCOMES:
            return
        if not self._wants(CrmEventType.MISSED_CALL):
            return  # no endpoint takes it: spare the database the reads
        try:
            # The stored rows, not ``result``: a replayed call must describe the first decision.
            async with self._sessions() as session:
                call = await get_call(session, ended.pbx, ended.linkedid)
                text = None if call is None else await text_of_call(session, call.id, _LEAD_KINDS)
        except Exception:
            log.exception("could not read call %s for the CRM", ended.linkedid)
            return
        phone = None if call is None else call.caller_e164
        key = f"missed_call:{ended.pbx}:{ended.linkedid}"
        await self._emit(CrmEventType.MISSED_CALL, key, phone, call, text=_pick(text, _TEXT_FIELDS))

    def _wants(self, event: CrmEventType) -> bool:
        return any(event in endpoint.events for endpoint in self._settings.endpoints)

    def on_decided(self, result: CallResult) -> None:
        """``CallHandler(on_decided=...)`` adapter: queues :meth:`call_decided` in a task."""
        if not self._wants(CrmEventType.MISSED_CALL):
            return
        task = asyncio.get_running_loop().create_task(self.call_decided(result))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def texts_sent(self, message_ids: Sequence[int]) -> None:
        """After ``mark_sent_many``: a ``text_sent`` event per text-back that left."""
        if not self._wants(CrmEventType.TEXT_SENT):
            return
        async with self._sessions() as session:
            found = await texts_with_calls(session, message_ids, _LEAD_KINDS)
        for m, call in found:
            text = _pick(m, _TEXT_FIELDS)
            await self._emit(
                CrmEventType.TEXT_SENT, f"text_sent:{m.id}", m.to_e164, call, text=text
            )

    async def inbound_received(self, inbound: InboundMessage) -> None:
        """After the inbox stored a text: ``reply`` for a reply, ``opt_out`` for a STOP."""
        kinds = {InboundKind.REPLY: CrmEventType.REPLY, InboundKind.STOP: CrmEventType.OPT_OUT}
        event = kinds.get(inbound.kind)
        if event is None or not self._wants(event):
            return
        reply = _pick(inbound, _REPLY_FIELDS)
        call = await self._load_call(inbound.call_id)
        await self._emit(event, f"{event}:{inbound.id}", inbound.from_e164, call, reply=reply)

    async def booking_recorded(self, booking: Booking) -> None:
        """After a booking is stored or changed (webhook, API, dashboard): a ``booking`` event."""
        if not self._wants(CrmEventType.BOOKING):
            return
        details = _pick(booking, _BOOKING_FIELDS)
        # A change of status or value is a new event; a webhook retry is not.
        key = f"booking:{booking.id}:{booking.status}:{booking.value_minor}"
        call = await self._load_call(booking.call_id)
        await self._emit(CrmEventType.BOOKING, key, booking.e164, call, booking=details)

    async def join(self) -> None:
        """Wait for the events queued through :meth:`on_decided` (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class CrmDispatcher:
    """Posts due CRM events, one claim at a time per row; retries with backoff."""

    def __init__(
        self,
        settings: CrmSettings,
        secrets: CrmSecrets,
        sessions: async_sessionmaker[AsyncSession],
        http: aiohttp.ClientSession,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings, self._keys = settings, secrets.keys
        self._endpoints = {endpoint.name: endpoint for endpoint in settings.endpoints}
        self._sessions, self._http, self._clock = sessions, http, clock
        self._wake, self._stopping = asyncio.Event(), False
        # The lease outlasts the slowest endpoint, so no other worker posts a row in flight.
        slowest = max((e.timeout_seconds for e in settings.endpoints), default=10.0)
        self._lease = timedelta(seconds=2 * slowest + 30)

    def wake(self) -> None:
        """Look for due events now (an event was just queued)."""
        self._wake.set()

    def stop(self) -> None:
        """Return from :meth:`run` after the current batch."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver due events until :meth:`stop`; errors are logged and retried."""
        if not self._endpoints:
            return  # nothing configured: no polling of the outbox at all
        while not self._stopping:
            try:
                busy = await self.deliver_due() > 0
            except Exception:
                log.exception("CRM delivery failed; retrying")
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._settings.poll_seconds):
                        await self._wake.wait()
                self._wake.clear()

    async def deliver_due(self) -> int:
        """Claim one batch of due events and post them; how many were claimed."""
        now = utc(self._clock())
        rows = await crm_outbox.claim_due(
            self._sessions, now=now, lease_until=now + self._lease, limit=self._settings.batch_size
        )
        await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    def _backoff(self, attempts: int) -> timedelta:
        s = self._settings
        delay = min(s.retry_max_seconds, s.retry_min_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=delay)

    async def _deliver(self, row: CrmEvent) -> None:
        error = await self._post(row)
        now = utc(self._clock())
        retry_at = None
        if error is not None:
            log.warning("CRM %s event %s to %s failed: %s", row.event, row.id, row.endpoint, error)
            if row.attempts < self._settings.max_attempts and row.endpoint in self._endpoints:
                retry_at = now + self._backoff(row.attempts)
        async with unit_of_work(self._sessions) as session:
            await crm_outbox.finish(
                session, row.id, attempt=row.attempts, now=now, error=error, retry_at=retry_at
            )

    async def _post(self, row: CrmEvent) -> str | None:
        endpoint = self._endpoints.get(row.endpoint)
        if endpoint is None:
            return f"endpoint {row.endpoint!r} is no longer configured"
        body, stamp = row.payload.encode(), int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": header_value(row.idempotency_key),  # holds the PBX's Linkedid
            EVENT_HEADER: header_value(row.event),
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(self._keys[endpoint.name], stamp, body),
        }
        try:
            async with asyncio.timeout(endpoint.timeout_seconds):
                async with self._http.post(endpoint.url, data=body, headers=headers) as response:
                    if response.status // 100 != 2:
                        return f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return repr(exc)
        return None
