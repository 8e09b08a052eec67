"""Glue between one AMI connection and its call tracker: the single, ordered consumer."""

from __future__ import annotations

import logging
from collections.abc import Callable

from asterisk_textback.ami.clock import PbxClock
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.ami.types import AmiEvent, EventBatch, QueueItem
from asterisk_textback.calls.model import CallEnded
from asterisk_textback.calls.tracker import CallTracker

log = logging.getLogger(__name__)

_REPR_LIMIT = 300

OnCall = Callable[[CallEnded], None]
#: After a reconnect: the calls lost sight of, and the gap (last event before → resync).
OnResync = Callable[[list[CallEnded], float, float], None]


class CallListener:
    """Feeds queued AMI items to a tracker in order and hands finished calls on.

    A failure on one event (in the tracker or in ``on_call``) is logged with that event and
    counted; the next event is processed as usual.

    Given the ``pbx`` it listens to, an event's ``Timestamp`` is judged against when it was
    read (see :class:`PbxClock`) and removed, so the tracker times the call by the trusted
    time; without it (``replay``), the recorded ``Timestamp`` is the time.
    """

    def __init__(
        self,
        tracker: CallTracker,
        on_call: OnCall,
        *,
        on_event: Callable[[AmiEvent], None] | None = None,
        on_resync: OnResync | None = None,
        pbx: PbxSettings | None = None,
    ) -> None:
        self.tracker = tracker
        #: Judges the PBX's clock (None: trust every ``Timestamp``, as ``replay`` must).
        self.clock = None if pbx is None else PbxClock(pbx.max_clock_skew, pbx.name)
        self._on_call = on_call
        self._on_event = on_event
        self._on_resync = on_resync
        self._last_received: float | None = None
        self.errors = 0

    @property
    def last_received(self) -> float | None:
        """When the last batch handled so far was received (its calls are handed on)."""
        return self._last_received

    def handle(self, item: QueueItem) -> None:
        """Process one queue item: a batch of events, or a resync after a reconnect."""
        if isinstance(item, EventBatch):
            self._last_received = item.received_at
            feed = self.tracker.feed
            on_event = self._on_event
            clock = self.clock
            received_at = item.received_at
            for event in item.events:
                try:
                    at = received_at
                    if clock is not None:
                        at = clock.event_time(event.pop("Timestamp", None), received_at)
                    if on_event is not None:
                        on_event(event)
                    for call in feed(event, at):
                        self._emit(call)
                except Exception:
                    self.errors += 1
                    log.exception("failed on AMI event %.*r", _REPR_LIMIT, event)
        else:
            lost = self.tracker.resync(item.alive_uniqueids, item.received_at)
            if self._on_resync is not None:
                since = item.blind_since or self._last_received or item.received_at
                self._on_resync(lost, since, item.received_at)
            else:
                for call in lost:
                    self._emit(call)

    def evict(self, now: float) -> None:
        """Emit calls that outlived the TTL (call this periodically when events are rare)."""
        for call in self.tracker.evict(now):
            self._emit(call)

    def _emit(self, call: CallEnded) -> None:
        try:
            self._on_call(call)
        except Exception:
            self.errors += 1
            log.exception("failed handling finished call %s", call.linkedid)
