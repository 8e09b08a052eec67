"""The inbox: act on verified provider callbacks (inbound texts and delivery reports).

``await inbox.handle(events)`` returns only once everything the callback asks for is
committed (the inbound row, an opt-out or opt-in, the confirmation in the outbox, a delivery
status), so the webhook's 2xx means "stored". Forwarding a reply to staff happens after that,
in a background task, and is retried by :meth:`Inbox.sweep` until it succeeds.

The STOP confirmation is queued to expire five minutes after the STOP was received: it goes
out within 47 CFR 64.1200(a)(12)'s window or not at all, however far behind the dispatcher
is (an outage, a backlog, a provider asking for retries). It and the HELP answer are the
``[consent]`` texts as configured, nothing added: no footer, no link, no marketing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.utc import utc
from asterisk_textback.compliance.carrier_rules import OPT_OUT_CONFIRM_WINDOW, readable_number
from asterisk_textback.inbound.consent import classify
from asterisk_textback.inbound.forwarding import Forwarder
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.inbound.settings import ConsentSettings
from asterisk_textback.logs.mask import phone
from asterisk_textback.policy.decide import refuse_destination
from asterisk_textback.policy.numbers import parse_caller
from asterisk_textback.policy.settings import PolicyConfig
from asterisk_textback.sms.base import DeliveryReport, InboundSms, WebhookEvent
from asterisk_textback.store import autoreply, delivery
from asterisk_textback.store.inbound import (
    DEFAULT_THREAD_WINDOW,
    NewInbound,
    StoredInbound,
    record_inbound,
)
from asterisk_textback.store.models import InboundMessage
from asterisk_textback.store.outbox import NewMessage
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.templates.segments import count_segments

log = logging.getLogger(__name__)

__all__ = ["Inbox", "SweepResult"]

#: Outbox kind of the text that answers each kind of inbound text.
_CONFIRM_KIND = {
    InboundKind.STOP: "optout_confirm",
    InboundKind.START: "optin_confirm",
    InboundKind.HELP: "help",
}


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one :meth:`Inbox.sweep` did."""

    reports_applied: int
    reports_dropped: int
    replies_forwarded: int


class Inbox:
    """Stores inbound texts and delivery reports, and forwards replies to staff."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        consent: ConsentSettings,
        *,
        business_name: str,
        default_region: str = "US",
        forwarder: Forwarder | None = None,
        thread_window: timedelta = DEFAULT_THREAD_WINDOW,
        pending_max_age: timedelta = delivery.DEFAULT_PENDING_MAX_AGE,
        on_queued: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        on_inbound: Callable[[InboundMessage], Awaitable[None]] | None = None,
        policy: PolicyConfig | None = None,
    ) -> None:
        self._on_inbound = on_inbound
        # Destination checks of auto-replies (None: none, as in tests of other parts).
        self._policy = policy
        self._budget = self.budget_of(consent)
        self._sessions = sessions
        self._consent = consent
        self._business = business_name
        self._region = default_region if policy is None else policy.business.default_region
        self._forwarder = forwarder
        self._thread_window = thread_window
        self._pending_max_age = pending_max_age
        self._on_queued = on_queued
        self._clock = clock
        self._tasks: set[asyncio.Task[bool]] = set()

    @staticmethod
    def budget_of(consent: ConsentSettings) -> autoreply.Budget:
        """The auto-reply budget ``[consent]`` sets."""
        return autoreply.Budget(
            per_minute=consent.auto_reply_rate_per_minute,
            daily_per_number=consent.auto_reply_daily_cap,
        )

    def _now(self) -> datetime:
        return utc(self._clock())

    async def handle(self, events: Sequence[WebhookEvent]) -> None:
        """Commit everything one verified callback carries, in order."""
        for event in events:
            if isinstance(event, InboundSms):
                await self.receive(event)
            else:
                await self.report(event)

    def _number(self, raw: str) -> str:
        # Alphanumeric senders and short codes have no E.164 form: keep them as sent.
        return parse_caller(raw, self._region).e164 or raw.strip()[:16]

    def _confirmation(
        self, kind: InboundKind, to: str, sender: str, received_at: datetime
    ) -> NewMessage | None:
        """The answer to ``kind`` (None: none is sent), from ``sender`` (the number texted)."""
        c = self._consent
        if kind is InboundKind.STOP and c.confirm_opt_out:
            template = c.opt_out_text
        elif kind is InboundKind.START and c.confirm_opt_in:
            template = c.opt_in_text
        elif kind is InboundKind.HELP:
            template = c.help_text
        else:
            return None
        # With no [consent] contact, the number the customer texted is the help contact.
        body = c.render(template, self._business, number=readable_number(sender))
        info = count_segments(body)
        now = self._now()
        expires = None
        if kind is InboundKind.STOP:
            # From the STOP's receipt (the provider's time, unless that is in our future).
            expires = min(received_at, now) + OPT_OUT_CONFIRM_WINDOW
        return NewMessage(
            to_e164=to,
            sender=sender,
            body=body,
            segments=info.segments,
            encoding=info.encoding,
            send_at=now,
            expires_at=expires,
            kind=_CONFIRM_KIND[kind],
        )

    async def receive(self, sms: InboundSms) -> StoredInbound:
        """Store one inbound text (once per provider id) and act on it; commits first."""
        now = self._now()
        verdict = classify(sms.body)
        sender = self._number(sms.from_number)
        ours = self._number(sms.to_number)
        new = NewInbound(
            provider=sms.provider,
            provider_message_id=sms.provider_message_id,
            from_e164=sender,
            to_e164=ours,
            body=sms.body,
            received_at=now if sms.at is None else utc(sms.at),
            kind=verdict.kind,
            keyword=None if verdict.keyword is None else verdict.keyword[:64],
        )
        # The confirmation goes out from the number the caller wrote to (CTIA: same line).
        confirmation = self._confirmation(verdict.kind, sender, ours, new.received_at)
        refused = None if self._policy is None else refuse_destination(sender, self._policy)
        if confirmation is not None and refused is not None:
            # An auto-reply is a text like any other: never to a premium, foreign or
            # invalid number (SMS pumping by texting HELP). A STOP still opts out.
            log.info("no %s: %s number", confirmation.kind, refused[0])
            confirmation = None
        async with unit_of_work(self._sessions) as session:
            stored = await record_inbound(
                session,
                new,
                now=now,
                confirmation=confirmation,
                thread_window=self._thread_window,
                budget=self._budget,
            )
        if not stored.created:
            log.info("inbound %s/%s already stored", sms.provider, sms.provider_message_id)
            return stored
        if stored.consent_changed:
            log.info("%s %s by text (%s)", phone(sender), verdict.kind.value, verdict.keyword)
        if self._on_inbound is not None:
            await self._on_inbound(stored.inbound)
        if stored.confirmation is not None and self._on_queued is not None:
            self._on_queued()
        if verdict.kind is InboundKind.REPLY and self._forwarder is not None:
            self._spawn(self._forwarder.forward(stored.inbound.id))
        return stored

    async def report(self, report: DeliveryReport) -> delivery.DeliveryOutcome:
        """Record one delivery report in its own unit of work."""
        async with unit_of_work(self._sessions) as session:
            return await delivery.apply_report(session, report, now=self._now())

    def _spawn(self, coro: Coroutine[Any, Any, bool]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[bool]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The reply stays unforwarded in the database; the sweep retries it.
            log.error("forwarding a reply failed", exc_info=task.exception())

    async def sweep(self) -> SweepResult:
        """Apply early delivery reports and retry unforwarded replies (run periodically)."""
        async with unit_of_work(self._sessions) as session:
            applied, dropped = await delivery.apply_pending(
                session, now=self._now(), max_age=self._pending_max_age
            )
        if dropped:
            log.warning("%d delivery report(s) never matched a sent text: dropped", dropped)
        forwarded = 0 if self._forwarder is None else await self._forwarder.forward_pending()
        return SweepResult(applied, dropped, forwarded)

    async def run_sweeper(self, interval: float) -> None:
        """Call :meth:`sweep` every ``interval`` seconds until cancelled; errors are logged."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("inbox sweep failed; retrying in %.0fs", interval)

    async def join(self) -> None:
        """Wait for the forwards started so far (tests, graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Cancel forwards in flight; the sweep of the next run retries them."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
