"""From a finished call to a committed decision: record, decide, render, enqueue.

Every call is stored with its decision (sent or suppressed, and why); a text to send is
committed to the outbox in the same transaction, before any network call, under an
idempotency key derived from the call, so a call can never produce two texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import CallEnded, Direction, Outcome
from asterisk_textback.calls.utc import utc
from asterisk_textback.logs.activity import log_call
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy import NO_HISTORY, Action, Decision, parse_caller
from asterisk_textback.sms.lookup import LineLookup
from asterisk_textback.store import caps, history, outbox
from asterisk_textback.store.calls import CallDecision, Recorded, record_call_and_enqueue
from asterisk_textback.store.uow import begin_reading, unit_of_work
from asterisk_textback.templates.compose import Draft
from asterisk_textback.textback.bulk import BulkLane
from asterisk_textback.textback.drafting import (
    IsLandline,
    decide_and_render,
    known_landline,
    reserve_in_window,
)
from asterisk_textback.textback.loading import PreparedConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallResult:
    """What became of one call: the decision, the text (when one), and if it is queued."""

    call: CallEnded
    decision: Decision
    draft: Draft | None
    queued: bool


OnDecided = Callable[[CallResult], None]


def both_decided(first: OnDecided | None, second: OnDecided) -> OnDecided:
    """Call ``first`` (if any) then ``second`` for each decided call."""
    if first is None:
        return second

    def both(result: CallResult) -> None:
        first(result)
        second(result)

    return both


#: At most this many calls are committed together.
_GROUP_MAX = 50


@dataclass(frozen=True, slots=True)
class _Pending:
    """A call decided but not yet written."""

    call: CallEnded
    decision: Decision
    draft: Draft | None
    stored: CallDecision
    message: outbox.NewMessage | None
    party: str | None
    handled: str | None
    now: float
    #: The caps of the config in force when the call ended (a reload may change them).
    caps: caps.Caps


class CallHandler:
    """Records calls in order from a queue, so the AMI consumer never waits on the database."""

    def __init__(
        self,
        loaded: PreparedConfig,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_queued: Callable[[], None],
        on_decided: OnDecided | None = None,
        clock: Callable[[], float] = time.time,
        lookup: LineLookup | None = None,
        tracking_secret: str = "",
        lanes: int = 2,
    ) -> None:
        self._loaded = loaded
        self._lookup = lookup
        self._tracking_secret = tracking_secret
        self._sessions = sessions
        self._on_queued = on_queued
        self._on_decided = on_decided
        self._clock = clock
        # Calls are recorded in a few lanes at once (reads overlap another lane's commit);
        # every call of one number goes through the same lane, so they stay in order.
        # Each call travels with the config in force when it was handed over (SIGHUP).
        self._lanes: list[asyncio.Queue[tuple[CallEnded, PreparedConfig] | None]] = [
            asyncio.Queue() for _ in range(max(1, lanes))
        ]
        self._live_writing = 0
        #: Set while the live lanes have nothing to do (the bulk lane's turn).
        self._idle = asyncio.Event()
        self._idle.set()
        # Calls with outcome unknown (evicted, lost in an AMI outage) are never texted and
        # go in bulk behind the live lanes: a flood of them never delays a real call's text.
        self._bulk = BulkLane(
            sessions,
            settings=lambda: self._loaded.settings,
            # One INFO line per call is for real calls, not a flood of evicted ones.
            recorded=lambda call, decision: self._report(
                call, decision, None, queued=False, log_line=False
            ),
            busy=self._live_busy,
            idle=self._idle,
            clock=clock,
        )
        self._running: asyncio.Task[None] | None = None
        self.recorded = 0
        self.errors = 0
        #: Calls recorded since start, by outcome (``/metrics``).
        self.outcomes: Counter[str] = Counter()

    def use(self, loaded: PreparedConfig, lookup: LineLookup | None) -> None:
        """Decide calls submitted from now on with a reloaded config (``SIGHUP``)."""
        self._loaded, self._lookup = loaded, lookup

    def submit(self, call: CallEnded) -> None:
        """Hand over a finished call (from the tracker's consumer; never blocks)."""
        if call.outcome is Outcome.UNKNOWN and call.direction is not Direction.OUTBOUND:
            self._bulk.submit(call)
            return
        party = call.dialed_number if call.direction is Direction.OUTBOUND else call.caller_number
        digits = "".join(ch for ch in party if ch.isdigit())[-10:]
        lane = zlib.crc32(digits.encode()) % len(self._lanes)
        self._idle.clear()
        self._lanes[lane].put_nowait((call, self._loaded))

    @property
    def backlog(self) -> int:
        """Calls waiting to be recorded."""
        return sum(q.qsize() for q in self._lanes) + self._bulk.backlog

    async def run(self) -> None:
        """Record calls until :meth:`stop`; everything submitted before it is recorded."""
        await asyncio.gather(*(self._lane(q) for q in self._lanes), self._bulk.run())

    async def _lane(self, queue: asyncio.Queue[tuple[CallEnded, PreparedConfig] | None]) -> None:
        stopping = False
        while not stopping:
            first = await queue.get()
            if first is None:
                break
            # Group commit: everything already waiting is recorded in one transaction.
            batch = [first]
            while len(batch) < _GROUP_MAX and not queue.empty():
                nxt = queue.get_nowait()
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            self._live_writing += 1
            try:
                await self._record_group(batch)
            finally:
                self._live_writing -= 1
                if not self._live_busy():
                    self._idle.set()
        if not self._live_busy():
            self._idle.set()

    def _live_busy(self) -> bool:
        return self._live_writing > 0 or any(not q.empty() for q in self._lanes)

    async def _record_group(self, calls: list[tuple[CallEnded, PreparedConfig]]) -> None:
        pending: list[_Pending] = []
        numbers: set[str] = set()
        for call, loaded in calls:
            party = self._party(call)
            if party is not None and party in numbers:
                # A second call of the same number must see the first one's text and
                # outcome (cooldown, handled): commit what we have before deciding it.
                await self._write(pending)
                pending, numbers = [], set()
            try:
                pending.append(await self._decide(call, loaded))
            except Exception:
                self.errors += 1
                log.exception("could not decide about call %s", call.linkedid)
                continue
            if party is not None:
                numbers.add(party)
        await self._write(pending)

    async def _write(self, pending: list[_Pending]) -> None:
        if not pending:
            return
        try:
            async with unit_of_work(self._sessions) as session:
                if any(p.message is not None for p in pending):
                    # Before any other write: the caps lock is always taken first, so a
                    # transaction waiting for it holds no row lock another one needs.
                    await caps.lock(session)
                stored = [await self._store(session, p) for p in pending]
        except Exception:
            if len(pending) == 1:
                self.errors += 1
                log.exception("could not record call %s", pending[0].call.linkedid)
                return
            # One bad call must not lose the others: record them one by one.
            for p in pending:
                await self._write([p])
            return
        for p, rec in stored:
            self._after(p, rec)

    def stop(self) -> None:
        """Finish the calls already submitted, then return from :meth:`run`."""
        for queue in self._lanes:
            queue.put_nowait(None)
        self._bulk.stop()

    async def __aenter__(self) -> CallHandler:
        """Record submitted calls (:meth:`run`) in the background until the block is left."""
        self._running = asyncio.create_task(self.run(), name="record calls")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """:meth:`stop`, then wait until every call submitted before is recorded."""
        self.stop()
        if self._running is not None:
            await self._running

    async def record(self, call: CallEnded) -> CallResult:
        """Decide about one call and commit the call row (and its text) in one transaction."""
        pending = await self._decide(call, self._loaded)
        async with unit_of_work(self._sessions) as session:
            if pending.message is not None:
                await caps.lock(session)
            pending, rec = await self._store(session, pending)
        return self._after(pending, rec)

    def _party(self, call: CallEnded) -> str | None:
        """The outside number a call is about (its caller, or whom an extension called)."""
        handled = self._handled_number(call)
        if handled is not None:
            return handled
        region = self._loaded.settings.business.default_region
        return parse_caller(call.caller_number, region).e164

    async def _decide(self, call: CallEnded, loaded: PreparedConfig) -> _Pending:
        """Read the caller's history and decide; nothing is written yet."""
        lookup = self._lookup
        settings = loaded.settings
        now = self._clock()
        caller = parse_caller(call.caller_number, settings.business.default_region)
        handled = self._handled_number(call)
        hist = NO_HISTORY
        if caller.e164 is not None and call.direction is Direction.INBOUND and call.missed:
            async with self._sessions() as session:
                # Reads only: on SQLite a DEFERRED transaction, so it does not queue behind
                # (or hold up) the dispatcher's writes.
                await begin_reading(session)
                # The rate caps are enforced when the text is inserted (``_reserve``).
                hist = await history.history_for_policy(
                    session, caller, settings.suppression, now=utc(now), count_rates=False
                )
        drafted = await decide_and_render(
            call,
            hist,
            settings,
            loaded,
            now=now,
            tracking_secret=self._tracking_secret,
            landline=None if lookup is None else self._landline_check(lookup, now),
        )
        decision, draft, message = drafted.decision, drafted.draft, drafted.message
        stored = CallDecision.of(
            decision,
            template=None if draft is None else draft.template,
            variant=None if draft is None else draft.variant,
        )
        party = handled if handled is not None else caller.e164
        limits = caps.Caps.of(settings.suppression)
        return _Pending(call, decision, draft, stored, message, party, handled, now, limits)

    async def _store(self, session: AsyncSession, p: _Pending) -> tuple[_Pending, Recorded]:
        """Write one decided call (cancel what it handled, then the call and its text)."""
        if p.handled is not None:
            # Answered on a newer call, or an extension called them back: a text still
            # waiting for its send time is no longer wanted.
            await outbox.cancel_if_handled(session, p.handled, utc(p.call.ended_at), now=utc(p.now))
        p = await self._reserve(session, p)
        rec = await record_call_and_enqueue(
            session, p.call, p.stored, p.message, caller_e164=p.party, now=utc(p.now)
        )
        return p, rec

    async def _reserve(self, session: AsyncSession, p: _Pending) -> _Pending:
        """Take the text's send slot under the caps: as due, held later, or refused."""
        if p.message is None:
            return p
        slot, message = await reserve_in_window(
            session,
            p.message,
            prefix=p.decision.rate_prefix,
            limits=p.caps,
            now=p.now,
            policy=self._loaded.settings,
        )
        if slot.send_at == p.message.send_at:
            return p
        if slot.send_at is not None:
            ends = None if message.expires_at is None else message.expires_at.timestamp()
            at = slot.send_at.timestamp()
            held = replace(p.decision, send_at=at, expires_at=ends, detail=slot.detail)
            return replace(p, decision=held, message=message)
        refused = replace(
            p.decision,
            action=Action.SUPPRESS,
            reason=slot.reason,
            detail=slot.detail,
            template=None,
            send_at=None,
            expires_at=None,
        )
        stored = CallDecision.of(refused)
        return replace(p, decision=refused, draft=None, stored=stored, message=None)

    def _after(self, p: _Pending, rec: Recorded) -> CallResult:
        """Once committed: wake the dispatcher, report the decision."""
        queued = (
            rec.created and rec.message is not None and rec.message.status is MessageStatus.QUEUED
        )
        message_id = None if rec.message is None else rec.message.id
        return self._report(
            p.call, p.decision, p.draft, queued=queued, message_id=message_id, created=rec.created
        )

    def _report(
        self,
        call: CallEnded,
        decision: Decision,
        draft: Draft | None,
        *,
        queued: bool,
        message_id: int | None = None,
        created: bool = True,
        log_line: bool = True,
    ) -> CallResult:
        self.recorded += 1
        self.outcomes[str(call.outcome)] += 1
        if log_line:
            log_call(call, decision, message_id=message_id, queued=queued, created=created)
        if queued:
            self._on_queued()
        result = CallResult(call, decision, draft, queued)
        if self._on_decided is not None:
            with contextlib.suppress(Exception):
                self._on_decided(result)
        return result

    def _landline_check(self, lookup: LineLookup, now: float) -> IsLandline:
        """The line-type question for :func:`decide_and_render`, cached as configured now."""
        cache_days = self._loaded.settings.provider.lookup.cache_days

        async def check(e164: str) -> bool:
            return await known_landline(self._sessions, lookup, e164, now, cache_days=cache_days)

        return check

    def _handled_number(self, call: CallEnded) -> str | None:
        """The E.164 number this call reached a person with, if it did."""
        region = self._loaded.settings.business.default_region
        if call.direction is Direction.INBOUND and call.outcome is Outcome.ANSWERED:
            return parse_caller(call.caller_number, region).e164
        if call.direction is Direction.OUTBOUND and call.dialed_number:
            return parse_caller(call.dialed_number, region).e164
        return None
