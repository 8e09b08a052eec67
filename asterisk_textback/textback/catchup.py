"""Catch-up after an AMI outage: calls the events cannot decide are read back from the CDR.

After a reconnect the tracker knows which calls it lost sight of (their channels are gone)
and the gap (last event before the drop → the resync). The CDR — ``cdr_csv``'s Master.csv
or FreePBX's ``asteriskcdrdb`` — has every call that ended meanwhile: each is classified
(answered vs missed; the CDR cannot tell a left voicemail) and recorded under its Linkedid,
so a call the live path already recorded is never recorded, or texted, twice.

A call that was up across the outage and ended ``unknown`` (no answer seen, no hook report)
waits for its CDR row: Asterisk writes it when the call ends, or later in batch mode
(cdr.conf ``batch=yes``), so the CDR is polled, with a growing interval, for at most
``pbx.cdr_wait_seconds``; only then is the call recorded ``unknown``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.calls.utc import utc
from asterisk_textback.cdr.cel import CelCall
from asterisk_textback.cdr.history import iter_db_history, iter_file_history
from asterisk_textback.cdr.model import CdrCall, CdrDirection, CdrOutcome, ClassifiedCall
from asterisk_textback.errors import ConfigError

log = logging.getLogger(__name__)

_DIRECTIONS = {
    CdrDirection.INBOUND: Direction.INBOUND,
    CdrDirection.INTERNAL: Direction.INTERNAL,
    CdrDirection.OUTBOUND: Direction.OUTBOUND,
}
#: Read this much before the gap too: a call's CDR row is stamped with its start.
_LOOKBACK_SECONDS = 3600.0
#: Polling for a lost call's CDR row: first interval, doubled up to this.
_POLL_FIRST = 0.5
_POLL_MAX = 10.0
_HANDED_MAX = 20_000
_CDR_RESOLUTION = 1.0
#: A window hands on a CDR call only this long after it ended: if the tracker saw it end,
#: its own report (hook facts, exclusion, voicemail) has been handed on by then.
_SETTLE_SECONDS = 2.0


def cdr_call_ended(call: CdrCall, pbx: str) -> CallEnded:
    """A ``CallEnded`` from CDR rows (missed calls get reason no_answer, no mailbox)."""
    first = call.rows[0]
    ended = max((r.end or r.start) for r in call.rows)
    answered = call.outcome is CdrOutcome.ANSWERED
    name = first.clid.split('"')[1] if first.clid.count('"') >= 2 else ""
    return CallEnded(
        linkedid=call.key,
        direction=_DIRECTIONS.get(call.direction, Direction.OUTBOUND),
        outcome=Outcome.ANSWERED if answered else Outcome.MISSED_NO_VOICEMAIL,
        reason=Reason.ANSWERED if answered else Reason.NO_ANSWER,
        caller_number=call.caller,
        caller_name=name,
        did=call.did if call.direction is CdrDirection.INBOUND else "",
        queue=None,
        mailbox=None,
        started_at=call.started_at.timestamp(),
        ended_at=ended.timestamp(),
        ring_seconds=0.0,
        pbx=pbx,
    )


def cel_call_ended(call: CelCall, pbx: str) -> CallEnded:
    """A ``CallEnded`` from CEL: who answered, and why a missed call was missed.

    CEL cannot tell a left voicemail from a greeting hang-up: missed calls are
    ``missed_no_voicemail`` (with the mailbox reached, if any), as from the CDR.
    """
    answered = call.outcome is CdrOutcome.ANSWERED
    return CallEnded(
        linkedid=call.key,
        direction=_DIRECTIONS.get(call.direction, Direction.OUTBOUND),
        outcome=Outcome.ANSWERED if answered else Outcome.MISSED_NO_VOICEMAIL,
        reason=Reason.ANSWERED if answered else call.reason,
        caller_number=call.caller,
        caller_name=call.caller_name,
        did=call.did if call.direction is CdrDirection.INBOUND else "",
        queue=None,
        mailbox=None if answered else call.mailbox,
        started_at=call.started_at.timestamp(),
        ended_at=call.ended_at.timestamp(),
        ring_seconds=0.0,
        answered_by=call.answered_by,
        pbx=pbx,
    )


def history_call_ended(call: ClassifiedCall, pbx: str) -> CallEnded:
    """A ``CallEnded`` from whichever log classified the call (CEL where it has it)."""
    if isinstance(call, CelCall):
        return cel_call_ended(call, pbx)
    assert isinstance(call, CdrCall)
    return cdr_call_ended(call, pbx)


class CdrCatchUp:
    """Reads one PBX's CDR for an outage window or a lost call, and hands the calls on."""

    def __init__(
        self,
        pbx: PbxSettings,
        submit: Callable[[CallEnded], None],
        environ: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        poll_every: float = _POLL_FIRST,
    ) -> None:
        self._pbx = pbx
        self._submit = submit
        self._clock = clock
        self._sleep = sleep
        self._poll_every = poll_every
        self._zone = ZoneInfo(pbx.cdr_timezone)
        self._tasks: set[asyncio.Task[int]] = set()
        #: Linkedid -> (the unknown call, when to stop waiting for its CDR row).
        self._waiting: dict[str, tuple[CallEnded, float]] = {}
        self._poller: asyncio.Task[None] | None = None
        #: Windows re-read for rows written late: calls that ended in ``[since, until]``
        #: (and started before ``started_before``) are handed on, until ``stop_at``.
        self._windows: list[_Window] = []
        #: Linkedids already handed on from the CDR (bounded): each call goes on once.
        self._handed: OrderedDict[str, None] = OrderedDict()
        self._closing = False
        self.stats = CatchUpStats()
        self._db_url: str | None = None
        if pbx.cdr_db_url_env:
            try:
                self._db_url = environ[pbx.cdr_db_url_env]
            except KeyError:
                raise ConfigError(
                    f"pbx.cdr_db_url_env: environment variable {pbx.cdr_db_url_env!r} is not set"
                ) from None

    @property
    def configured(self) -> bool:
        """Whether a CDR source is set for this PBX."""
        return self._db_url is not None or bool(self._pbx.cdr_csv or self._pbx.cel_csv)

    def submit(self, call: CallEnded) -> None:
        """The listener's ``on_call``: a call the events could not decide waits for the CDR."""
        if call.reason is Reason.CONNECTION_LOST and self.configured:
            self._wait([call])
        else:
            self._remember(call.linkedid)  # reported live: a window never hands it on again
            self._submit(call)

    @property
    def waiting(self) -> int:
        """How many calls are waiting for their CDR row."""
        return len(self._waiting)

    def oldest_pending(self) -> float | None:
        """Start of the oldest call or outage still waiting for CDR rows (the mark stays before)."""
        starts = [c.started_at for c, _ in self._waiting.values()]
        return min(starts + [w.since for w in self._windows], default=None)

    def on_resync(self, lost: list[CallEnded], since: float, until: float) -> None:
        """The listener's resync hook: resolve in the background (the consumer never waits)."""
        if not self.configured:
            for call in lost:
                self._submit(call)  # no CDR: they stay unknown
            return
        self._spawn(self.resolve(lost, since, until))

    def _spawn(self, work: Coroutine[Any, Any, int]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """On shutdown: finish catch-ups in progress, one last look for the waiting calls.

        Calls whose CDR row is still missing are not recorded: the start-up catch-up of the
        next run reads them (the mark stays before them).
        """
        self._closing = True
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._waiting or self._windows:
            await self._poll_once(final=True)

    def _read(self, since: float, until: float) -> list[ClassifiedCall]:
        """The calls started in the window, from CEL where it has them, else from CDR."""
        start = utc(since - _LOOKBACK_SECONDS)
        end = utc(until)
        if self._db_url is not None:  # its ``cel`` table is used when it has events
            return list(iter_db_history(self._db_url, start, end, self._zone))
        # cdr_csv / cel_custom create their file on the first call they log.
        cdr = _existing(self._pbx.cdr_csv)
        cel = _existing(self._pbx.cel_csv)
        calls = iter_file_history(cdr, cel, self._zone) if cdr or cel else ()
        return [c for c in calls if c.started_at >= start]

    async def _found(self, since: float, until: float) -> list[CallEnded]:
        try:
            found = await asyncio.to_thread(self._read, since, until)
        except Exception:
            self.stats.read_errors += 1
            log.exception("reading the CDR of %s failed", self._pbx.name)
            return []
        return [history_call_ended(c, self._pbx.name) for c in found]

    async def resolve(self, lost: Iterable[CallEnded], since: float, until: float) -> int:
        """Replace lost calls by their CDR version, add the calls that ended in the gap.

        Every call is handed to ``submit`` once; a lost call the CDR does not know yet waits
        for its row (bounded). Returns how many calls the gap added from the CDR.
        """
        lost_calls = list(lost)
        found = await self._found(since, until)
        by_id = {c.linkedid: c for c in found}
        missing = []
        for lost_call in lost_calls:
            cdr = by_id.pop(lost_call.linkedid, None)
            if lost_call.reason is not Reason.CONNECTION_LOST:
                self._submit(lost_call)  # decided by what was seen (an answer, the hook)
            elif cdr is None:
                missing.append(lost_call)
            else:
                self._resolved(cdr)
        window = _Window(since, until, self._clock() + self._pbx.cdr_wait_seconds)
        settled = self._clock() - _SETTLE_SECONDS  # later ones: the next poll (see there)
        gap = sorted(
            (c for c in by_id.values() if window.holds(c) and c.ended_at <= settled), key=_end
        )
        recovered = sum(self._hand_on(c) for c in gap)
        self.stats.recovered += recovered
        # Rows of calls that ended just before the reconnect may come later (batch mode).
        self._windows.append(window)
        self._wait(missing)
        if recovered:
            log.warning(
                "AMI outage on %s: %d call(s) recovered from the CDR", self._pbx.name, recovered
            )
        return recovered

    def _hand_on(self, call: CallEnded) -> bool:
        """Submit a call that ended unseen during an outage, unless it already was."""
        if call.linkedid in self._handed or call.linkedid in self._waiting:
            return False
        self._remember(call.linkedid)
        self._submit(call)
        return True

    def _remember(self, linkedid: str) -> None:
        self._handed[linkedid] = None
        if len(self._handed) > _HANDED_MAX:
            self._handed.popitem(last=False)

    async def recover(self, since: float, until: float) -> list[CallEnded]:
        """Every call the CDR has ending in ``[since, until]``, submitted (start-up catch-up).

        Calls up at ``until`` (the start) are joined mid-call by the tracker, which never
        reports those: the calls that started before it and end within ``cdr_wait_seconds``
        after are read from the CDR as they end.
        """
        calls = sorted(
            (c for c in await self._found(since, until) if since <= c.ended_at <= until), key=_end
        )
        for call in calls:
            self._hand_on(call)
        self.watch_up_at(until)
        return calls

    def watch_up_at(self, start: float) -> None:
        """Read the calls up at ``start`` from the CDR as they end (for cdr_wait_seconds)."""
        wait = self._pbx.cdr_wait_seconds
        self._windows.append(_Window(start, start + wait, self._clock() + wait, start))
        self._kick()

    def _resolved(self, call: CallEnded) -> None:
        self._remember(call.linkedid)
        self.stats.resolved += 1
        log.info(
            "call %s on %s resolved from the CDR after an AMI outage: %s",
            call.linkedid,
            self._pbx.name,
            call.outcome,
        )
        self._submit(call)

    def _wait(self, calls: list[CallEnded]) -> None:
        deadline = self._clock() + self._pbx.cdr_wait_seconds
        for call in calls:
            self._waiting.setdefault(call.linkedid, (call, deadline))
        self._kick()

    def _kick(self) -> None:
        """Start the poller if there is something to poll for and it is not running."""
        idle = self._poller is None or self._poller.done()
        if idle and not self._closing and (self._waiting or self._windows):
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        interval = self._poll_every
        while self._waiting or self._windows:
            await self._poll_once(final=False)
            if self._waiting or self._windows:
                await self._sleep(interval)
                interval = min(interval * 2, _POLL_MAX)

    async def _poll_once(self, *, final: bool) -> None:
        since = self.oldest_pending()
        if since is None:
            return
        found = await self._found(since, self._clock())
        by_id = {c.linkedid: c for c in found}
        now = self._clock()
        for linkedid, (call, deadline) in list(self._waiting.items()):
            cdr = by_id.get(linkedid)
            if cdr is not None:
                del self._waiting[linkedid]
                self._resolved(cdr)
            elif now >= deadline and not final:
                del self._waiting[linkedid]
                self.stats.unresolved += 1
                log.warning(
                    "call %s on %s: no hook report and no CDR row after %.0f s; recorded unknown",
                    linkedid,
                    self._pbx.name,
                    self._pbx.cdr_wait_seconds,
                )
                self._submit(call)
        for call in sorted(found, key=_end):
            if not final and call.ended_at > now - _SETTLE_SECONDS:
                continue  # the live events report a call they saw end first (richer facts)
            window = next((w for w in self._windows if w.holds(call)), None)
            if window is not None and self._hand_on(call):
                if window.started_before is None:
                    self.stats.recovered += 1
                else:
                    self.stats.up_at_start += 1
        if not final:
            self._windows = [w for w in self._windows if now < w.stop_at + _SETTLE_SECONDS]


@dataclass(frozen=True, slots=True)
class _Window:
    since: float
    until: float
    stop_at: float
    started_before: float | None = None

    def holds(self, call: CallEnded) -> bool:
        started = self.started_before is None or call.started_at < self.started_before
        # CDR times are whole seconds (floored): a call that ended just after ``since`` may
        # show up to a second before it. The recorder drops a call recorded twice.
        return started and self.since - _CDR_RESOLUTION <= call.ended_at <= self.until


def _existing(path: str | None) -> Path | None:
    return Path(path) if path is not None and Path(path).exists() else None


def _end(call: CallEnded) -> float:
    return call.ended_at


@dataclass(slots=True)
class CatchUpStats:
    """What the CDR catch-up did (``/healthz``)."""

    #: Calls up across an outage, decided by their CDR row.
    resolved: int = 0
    #: Calls that ended unseen during an outage, read from the CDR.
    recovered: int = 0
    #: Calls already up when the service started, read from the CDR as they ended.
    up_at_start: int = 0
    unresolved: int = 0
    read_errors: int = 0
