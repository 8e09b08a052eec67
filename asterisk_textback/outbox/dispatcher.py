"""The dispatcher: workers drain the outbox through the provider, exactly once per text.

Order of writes per text: claimed (``sending``) → ``sending_at`` committed → request to the
provider → result recorded. A crash before ``sending_at`` puts the text back in the queue; a
crash after it leaves it ``unknown`` (shown, never re-sent automatically).

Texts whose senders' rate slots come within :data:`WAVE_HORIZON` get ``sending_at`` in the
claim's own transaction and go out at once, concurrently, each at its slot; the rest of a
batch leaves in waves, each with one ``sending_at`` commit, and a text that must wait keeps
``sending_at`` unset until then, so a STOP that arrives meanwhile still cancels it. The
provider's acceptances are written by a :class:`ReceiptWriter`, many per transaction, while
the worker claims the next texts. On SQLite, where writers queue one behind another, a
text's latency is then one commit plus the request, however many calls are being recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.utc import utc
from asterisk_textback.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNumberError,
    ProviderOptedOutError,
    ProviderOutcomeUnknownError,
    ProviderTransientError,
)
from asterisk_textback.logs.activity import log_text_failed, log_text_sent
from asterisk_textback.outbox.pacing import PollBudget
from asterisk_textback.outbox.quiet import QuietGate, RetryWindow
from asterisk_textback.outbox.receipts import ReceiptWriter
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.outbox.stats import DispatchStats, retry_cause
from asterisk_textback.outbox.timing import (
    Clock,
    SenderRateLimiter,
    Sleep,
    sleep_until,
    wait_or_sleep,
)
from asterisk_textback.sms.base import OutboundSms, Provider
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.store import contacts, outbox, results
from asterisk_textback.store.models import Message
from asterisk_textback.store.outbox_due import next_due
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.web.metrics import Histogram

log = logging.getLogger(__name__)

#: Texts whose rate slots come within this many seconds of a wave's first leave with it:
#: one ``sending_at`` commit for all of them, each request still sent at its own slot.
WAVE_HORIZON = 0.05


class Dispatcher:
    """Runs ``workers`` claim-send-record loops until stopped.

    Every wait (rate slots, polls, pauses, housekeeping) reads ``clock`` and waits with
    ``sleep``, so a fake pair drives it in tests (:mod:`.timing`).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        provider: Provider,
        settings: DispatchSettings,
        provider_settings: ProviderSettings,
        *,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        worker_prefix: str = "worker",
        on_sent: Callable[[list[int]], Awaitable[None]] | None = None,
        window: RetryWindow | None = None,
        budget: PollBudget | None = None,
    ) -> None:
        #: First due time (the call's end plus any delay) -> the provider's acceptance, per
        #: text sent, across retries: an outage shows as the time it held the text.
        self.latency = Histogram()
        self._sessions = sessions
        self._provider = provider
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._limiter = SenderRateLimiter(provider_settings.rate_per_second, clock, sleep)
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False
        self._prefix = worker_prefix
        self.stats = DispatchStats()
        self._on_sent = on_sent
        #: Quiet hours at the moment of sending (``use`` applies a reload).
        self.quiet = QuietGate(window)
        self.receipts = ReceiptWriter(sessions, clock=clock, sleep=sleep, on_sent=self._recorded)
        #: Why sending is paused (credentials/registration refused); None while sending.
        self.paused: str | None = None
        self._paused_until = 0.0
        #: A host's idle polls (:mod:`.pacing`); None: every ``poll_seconds``, as one business.
        self._budget = budget

    def use_provider_settings(self, provider_settings: ProviderSettings) -> None:
        """Apply a reloaded ``[provider]`` rate (the provider itself is swapped by its owner)."""
        self._limiter.set_rate(provider_settings.rate_per_second)

    def wake(self) -> None:
        """A text was queued: let an idle worker look now instead of at the next poll."""
        self._wake.set()

    async def _recover(self, **which: Any) -> None:
        async with unit_of_work(self._sessions) as session:
            found = await outbox.recover_after_crash(session, utc(self._clock()), **which)
        self.stats.recovered_unknown += found
        if found:
            log.warning(
                "%d text(s) were mid-send when a dispatcher stopped: marked unknown, not re-sent",
                found,
            )

    async def run(self) -> None:
        """Recover this instance's texts from a previous crash, then run the workers."""
        await self._recover(claimed_by_prefix=self._prefix)
        workers = [
            asyncio.create_task(self._worker(f"{self._prefix}-{i}"))
            for i in range(self._settings.workers)
        ]
        workers.append(asyncio.create_task(self._housekeeping()))
        writer = asyncio.create_task(self.receipts.run())
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            for task in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Every text the workers sent is recorded before run() returns.
            self.receipts.close()
            await writer

    def stop(self) -> None:
        """Finish the text in hand, put the rest of the batch back, and return from run()."""
        self._stopping = True
        self._stopped.set()
        self._wake.set()

    async def _idle(self, seconds: float) -> None:
        await wait_or_sleep(self._wake, seconds, self._sleep)
        if not self._stopping:
            self._wake.clear()

    async def _housekeeping(self) -> None:
        """Expire stale texts and take over texts of instances that died, on a timer.

        Not before every claim: on SQLite each is a write transaction competing for the lock.
        """
        lease = timedelta(seconds=self._settings.claim_lease_seconds)
        while not self._stopping:
            try:
                async with unit_of_work(self._sessions) as session:
                    self.stats.expired += await outbox.expire_due(session, utc(self._clock()))
                await self._recover(claimed_before=utc(self._clock()) - lease)
            except Exception:
                log.exception("outbox housekeeping failed; retrying")
            # Not woken by queued texts (each would cost two write transactions): by the clock,
            # or by stop().
            await wait_or_sleep(self._stopped, self._settings.expire_every_seconds, self._sleep)

    async def _worker(self, name: str) -> None:
        poll = self._settings.poll_seconds
        if self._budget is not None:
            self._budget.join()
        try:
            await self._work(name, poll)
        finally:
            if self._budget is not None:
                self._budget.leave()

    async def _work(self, name: str, poll: float) -> None:
        while not self._stopping:
            try:
                await self._work_once(name, poll)
            except Exception:
                # A database hiccup (locked, connection dropped) must not end sending for
                # good: log it, wait a little, carry on. Rows in hand stay claimed and are
                # recovered (never re-sent once sending_at is set).
                self.stats.errors += 1
                log.exception("dispatcher %s failed; retrying", name)
                await self._idle(poll)

    async def _work_once(self, name: str, poll: float) -> None:
        now = self._clock()
        if self.paused is not None and now < self._paused_until:
            await self._idle(min(poll, self._paused_until - now))
            return
        slots: dict[int, float] = {}
        closed: dict[int, float] = {}

        def leaves_now(message: Message) -> bool:
            if self._stopping or self.paused is not None:
                return False
            opens = self.quiet.closed_until(message, now)
            if opens is not None:  # due, but its quiet-hours window closed meanwhile
                closed[message.id] = opens
                return False
            slot = self._limiter.reserve(message.sender, within=WAVE_HORIZON)
            if slot is not None:
                slots[message.id] = slot
            return slot is not None

        claimed = await outbox.claim_due(
            self._sessions, name, utc(now), self._settings.batch_size, leaves_now=leaves_now
        )
        if closed:
            async with unit_of_work(self._sessions) as session:
                await outbox.defer_claimed(session, closed, now=utc(now))
            claimed = [m for m in claimed if m.id not in closed]
        if not claimed:
            await self._idle(poll if self._budget is None else await self._until_due(poll))
            return
        await self._send_batch(claimed, slots)

    async def _until_due(self, poll: float) -> float:
        """With a host's budget: seconds to idle after an empty claim, until the next queued
        text falls due or the budget's poll, whichever comes first (:mod:`.pacing`)."""
        assert self._budget is not None
        interval = self._budget.interval(poll)
        due = await next_due(self._sessions, utc(self._clock()))
        if due is None:
            return interval
        wait = due - self._clock()
        # Due already yet not claimed (another worker holds it, or it was just released):
        # look again after the usual poll rather than at once.
        return poll if wait <= 0 else min(interval, wait)

    async def _send_batch(self, claimed: list[Message], slots: dict[int, float]) -> None:
        """Send the texts that left with the claim, then the rest wave by wave."""
        # ``slots`` holds exactly the texts whose ``sending_at`` the claim committed.
        leaving = [(m, slots[m.id]) for m in claimed if m.id in slots]
        rest = [m for m in claimed if m.id not in slots]
        self.receipts.add(await self._send_all(leaving))
        while rest:
            if self._stopping or (self.paused and self._clock() < self._paused_until):
                await self._release(rest)
                break
            wave, rest = await self._next_wave(rest)
            self.receipts.add(await self._send_wave(wave))

    async def _recorded(self, message_ids: list[int]) -> None:
        """Texts the provider accepted are now stored as ``sent``: count them, tell the hooks."""
        self.stats.sent += len(message_ids)
        if self._on_sent is not None:
            await self._on_sent(message_ids)

    async def _next_wave(
        self, pending: list[Message]
    ) -> tuple[list[tuple[Message, float]], list[Message]]:
        """The first text once its slot comes, with the ones after it whose slots come
        within :data:`WAVE_HORIZON`; each with its slot."""
        first = self._limiter.reserve(pending[0].sender)
        await sleep_until(first, self._clock, self._sleep)
        wave = [(pending[0], self._clock())]
        for message in pending[1:]:
            slot = self._limiter.reserve(message.sender, within=WAVE_HORIZON)
            if slot is None:
                break
            wave.append((message, slot))
        return wave, pending[len(wave) :]

    async def _send_wave(self, wave: list[tuple[Message, float]]) -> list[results.SentReceipt]:
        """Commit ``sending_at`` for the wave, then send each text concurrently at its slot."""
        worker = wave[0][0].claimed_by or ""
        async with unit_of_work(self._sessions) as session:
            marked = set(
                await results.mark_sending_many(
                    session, [m.id for m, _ in wave], claimed_by=worker, now=utc(self._clock())
                )
            )
        for message, _ in wave:
            if message.id not in marked:
                # Cancelled while it waited for its rate slot (STOP, or the caller was reached).
                log.info("text %d not sent: no longer queued for %s", message.id, worker)
                self.stats.cancelled += 1
        return await self._send_all([(m, slot) for m, slot in wave if m.id in marked])

    async def _send_all(self, texts: list[tuple[Message, float]]) -> list[results.SentReceipt]:
        """Send each text (``sending_at`` committed) concurrently at its slot."""
        sent = await asyncio.gather(*(self._send_one(m, at=slot) for m, slot in texts))
        return [receipt for receipt in sent if receipt is not None]

    async def _release(self, messages: list[Message]) -> None:
        async with unit_of_work(self._sessions) as session:
            ids = [m.id for m in messages]
            await outbox.release_claimed(session, ids, now=utc(self._clock()))

    async def _send_one(self, message: Message, *, at: float) -> results.SentReceipt | None:
        """One request to the provider at epoch ``at`` (``sending_at`` is committed)."""
        await sleep_until(at, self._clock, self._sleep)
        sms = OutboundSms(
            message_id=message.id,
            idempotency_key=message.idempotency_key,
            to=message.to_e164,
            sender=message.sender,
            body=message.body,
            segments=message.segments,
            encoding=message.encoding,
        )
        try:
            result = await self._provider.send(sms)
        except ProviderError as exc:
            await self._failed(message, exc)
            return None
        except Exception as exc:  # an adapter bug: we cannot tell whether it left
            log.exception(
                "provider %s crashed sending message %d", self._provider.name, sms.message_id
            )
            await self._failed(message, ProviderOutcomeUnknownError(repr(exc)))
            return None
        if self.paused is not None:
            log.warning("provider %s accepts texts again: sending resumed", self._provider.name)
            self.paused = None
        # From the first due time, not this attempt's: retries must not hide an outage.
        latency = max(0.0, self._clock() - message.send_at.timestamp())
        self.latency.observe(latency)
        log_text_sent(
            message.id,
            message.to_e164,
            result.provider,
            result.provider_message_id,
            latency,
            message.attempts,  # the claim counted this attempt
        )
        return results.SentReceipt(message.id, result.provider, result.provider_message_id)

    def _backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        s = self._settings
        delay = min(s.retry_max_seconds, s.retry_min_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=max(delay, retry_after or 0.0))

    async def _failed(self, message: Message, exc: ProviderError) -> None:
        now = utc(self._clock())
        error = f"{type(exc).__name__}: {exc}"[:1000]
        async with unit_of_work(self._sessions) as session:
            if isinstance(exc, ProviderTransientError):
                backoff = self.quiet.retry_after(
                    message, self._backoff(message.attempts, exc.retry_after), self._clock()
                )
                await results.mark_failed_transient(
                    session, message.id, now=now, error=error, backoff=backoff
                )
                self.stats.retried += 1
                self.stats.retries_by_cause[retry_cause(exc)] += 1
            elif isinstance(exc, ProviderAuthError):
                # Not the text's fault: keep it queued and stop hammering the provider.
                backoff = timedelta(seconds=self._settings.retry_max_seconds)
                await results.mark_failed_transient(
                    session, message.id, now=now, error=error, backoff=backoff
                )
                self.stats.retries_by_cause[retry_cause(exc)] += 1
                self.paused = error
                self._paused_until = self._clock() + backoff.total_seconds()
                log.error("sending paused for %s: %s", backoff, error)
            elif isinstance(exc, ProviderOutcomeUnknownError):
                await results.mark_unknown(session, message.id, now=now, error=error)
                self.stats.unknown += 1
            else:
                await results.mark_failed_permanent(session, message.id, now=now, error=error)
                self.stats.failed += 1
                if isinstance(exc, ProviderNumberError):
                    await contacts.mark_no_sms(session, message.to_e164, now=now)
                elif isinstance(exc, ProviderOptedOutError):
                    await contacts.opt_out(session, message.to_e164, now=now, source="provider")
        log_text_failed(message.id, message.to_e164, exc, error)
