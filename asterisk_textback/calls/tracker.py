"""The call tracker: a pure state machine from AMI events to one ``CallEnded`` per call.

Events and ``now`` go in, finished calls come out; no I/O, no clock, no timers. Calls are
keyed by Linkedid (every channel of one call shares it) and a call ends on the event that
removes its last channel, so a missed caller is known the moment the call is over.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping

from asterisk_textback.ami.clock import finite_seconds
from asterisk_textback.ami.framing import TRACKED_VARIABLES
from asterisk_textback.calls.classify import classify
from asterisk_textback.calls.contexts import ContextMatcher
from asterisk_textback.calls.model import CallEnded, Direction, Reason
from asterisk_textback.calls.state import CallState, DialEdge, TrackerStats
from asterisk_textback.calls.trackerconfig import TrackerConfig, TrackerDefaults
from asterisk_textback.calls.userevent import on_userevent
from asterisk_textback.calls.varset import on_varset
from asterisk_textback.calls.voicemail import (
    MailboxCounts,
    mailbox_from_appdata,
)

log = logging.getLogger(__name__)

Event = Mapping[str, str]

_EVICT_EVERY = 1024
#: Without HangupRequest, a caller Hangup this soon after leaving the queue is an abandon.
_ABANDON_HANGUP_GAP = 1.0


def _clean_name(name: str) -> str:
    return "" if name in ("<unknown>", "") else name


class CallTracker:
    """Follows every call on one PBX and classifies it when its last channel hangs up."""

    def __init__(self, settings: TrackerConfig | None = None, pbx: str = "default") -> None:
        self._settings: TrackerConfig = settings or TrackerDefaults()
        self._pbx = pbx
        self._is_trunk = ContextMatcher(self._settings.trunk_contexts)
        self._is_internal = ContextMatcher(self._settings.internal_contexts)
        self._calls: dict[str, CallState] = {}  # Linkedid -> call, oldest first
        self._chan: dict[str, CallState] = {}  # Uniqueid -> call
        self._ended: OrderedDict[str, None] = OrderedDict()  # recently ended Uniqueids
        self._emitted: OrderedDict[str, None] = OrderedDict()  # recently emitted Linkedids
        self._mailboxes = MailboxCounts(self._settings.remember_ended)
        self._gap_uids: set[str] = set()  # alive at the last resync, never seen before it
        self.stats = TrackerStats()
        self._handlers: dict[str, Callable[[CallState, Event, str, float], None]] = {
            "Newchannel": self._on_newchannel,
            "Newstate": self._on_newstate,
            "NewCallerid": self._on_callerid,
            "Newexten": self._on_newexten,
            "VarSet": on_varset,
            "DialBegin": self._on_dialbegin,
            "DialEnd": self._on_dialend,
            "AgentConnect": self._on_agentconnect,
            "QueueCallerJoin": self._on_queue_join,
            "QueueCallerLeave": self._on_queue_leave,
            "QueueCallerAbandon": self._on_queue_abandon,
            "HangupRequest": self._on_hangup_request,
            "MessageWaiting": self._on_mwi,
            "UserEvent": on_userevent,
        }

    # -- public API ---------------------------------------------------------------------

    def use_settings(self, settings: TrackerConfig) -> None:
        """Apply a reloaded ``[tracker]`` (contexts, bounds); open calls are kept."""
        self._settings = settings
        self._is_trunk = ContextMatcher(settings.trunk_contexts)
        self._is_internal = ContextMatcher(settings.internal_contexts)

    @property
    def open_calls(self) -> int:
        """How many calls are being followed right now."""
        return len(self._calls)

    def feed(self, event: Event, now: float) -> list[CallEnded]:
        """Apply one AMI event; return the calls it ended (usually none, at most a few).

        ``now`` is when the event was received; the event's own ``Timestamp`` header, when
        Asterisk sends one, is preferred for call times.
        """
        self.stats.events += 1
        name = event.get("Event", "")
        raw_ts = event.get("Timestamp")
        ts = now if not raw_ts else finite_seconds(raw_ts)
        if ts is None:  # unparsable, "nan", "inf": not a time
            self.stats.malformed += 1
            ts = now
        done: list[CallEnded] = []
        if self.stats.events % _EVICT_EVERY == 0:
            done.extend(self.evict(ts))
        if name == "Pickup":
            self._on_pickup(event, ts)
            return done
        handler = self._handlers.get(name)
        is_hangup = name == "Hangup"
        if handler is None and not is_hangup:
            return done
        if name == "VarSet" and event.get("Variable") not in TRACKED_VARIABLES:
            return done
        uid = event.get("Uniqueid")
        if not uid:
            if name == "MessageWaiting":
                self._mwi_update(event)
            return done
        call = self._locate(event, uid, name, ts, done)
        if call is None:
            return done
        call.last_event_at = ts
        if handler is not None:
            handler(call, event, uid, ts)
        if is_hangup:
            self._on_hangup(call, uid, ts, done)
        return done

    def evict(self, now: float) -> list[CallEnded]:
        """Emit (outcome ``unknown``) calls older than the TTL or beyond the open-call cap."""
        done: list[CallEnded] = []
        ttl = self._settings.call_ttl_seconds
        cap = self._settings.max_open_calls
        for linkedid in list(self._calls):
            call = self._calls[linkedid]
            if call.started_at + ttl > now and len(self._calls) <= cap:
                break  # oldest first: the rest are younger
            self.stats.evicted += 1
            call.lost = Reason.EVICTED
            self._finish(call, now, done)
        return done

    def resync(self, alive_uniqueids: frozenset[str], now: float) -> list[CallEnded]:
        """After an AMI reconnect: drop channels that died unseen; end calls with none left.

        Open calls, and calls of channels begun unseen, go on as gap calls (classify.py).
        """
        done: list[CallEnded] = []
        self._gap_uids = set(alive_uniqueids) - self._chan.keys()
        for call in list(self._calls.values()):
            call.gap = call.gap or call.root_seen  # one we joined mid-call stays partial
            for uid in call.forget_dead(alive_uniqueids):
                self._chan.pop(uid, None)
                self._remember(self._ended, uid)
            if not call.channels:
                self._finish(call, now, done)
        return done

    # -- bookkeeping --------------------------------------------------------------------

    def _remember(self, store: OrderedDict[str, None], key: str) -> None:
        store[key] = None
        if len(store) > self._settings.remember_ended:
            store.popitem(last=False)

    def _locate(
        self, event: Event, uid: str, name: str, ts: float, done: list[CallEnded]
    ) -> CallState | None:
        """The call this channel belongs to, following Linkedid moves (bridges, pickups)."""
        linkedid = event.get("Linkedid") or uid
        call = self._chan.get(uid)
        if call is not None:
            if call.linkedid != linkedid:
                call = self._move(call, uid, linkedid, ts, done)
            return call
        if uid in self._ended or linkedid in self._emitted:
            self.stats.late_events += 1
            return None
        call = self._calls.get(linkedid)
        if call is None:
            call = CallState(linkedid, ts)
            self._calls[linkedid] = call
        if uid in self._gap_uids or linkedid in self._gap_uids:
            call.gap = True  # it began while we were blind
        channel = event.get("Channel", "")
        call.channels[uid] = channel
        self._chan[uid] = call
        if channel.startswith("Local/"):
            call.add_local_half(uid, channel)
        if uid == linkedid:
            self._root_snapshot(call, event, name)
        elif self._is_trunk(event.get("Context", "")):
            call.trunk_leg = True
        return call

    def _move(
        self, old: CallState, uid: str, linkedid: str, ts: float, done: list[CallEnded]
    ) -> CallState:
        """A channel's Linkedid changed: it now belongs to another call."""
        name = old.channels.pop(uid, "")
        new = self._calls.get(linkedid)
        if new is None:
            new = CallState(linkedid, ts)
            self._calls[linkedid] = new
        new.channels[uid] = name
        self._chan[uid] = new
        if not old.channels:
            self._finish(old, ts, done)
        return new

    def _root_snapshot(self, call: CallState, event: Event, name: str) -> None:
        """First sight of the root channel: who called, where it came in."""
        call.root_seen = name == "Newchannel"
        call.root_context = event.get("Context", "")
        call.root_in_trunk = self._is_trunk(call.root_context)
        call.caller_number = event.get("CallerIDNum", "")
        call.caller_name = _clean_name(event.get("CallerIDName", ""))
        exten = event.get("Exten", "")
        if exten and exten != "s":
            call.did_exten = exten

    def _on_hangup(self, call: CallState, uid: str, ts: float, done: list[CallEnded]) -> None:
        if uid == call.linkedid:
            self._caller_gone(call, ts)
        call.channels.pop(uid, None)
        self._chan.pop(uid, None)
        self._remember(self._ended, uid)
        if not call.channels:
            self._finish(call, ts, done)

    def _finish(self, call: CallState, ts: float, done: list[CallEnded]) -> None:
        self._calls.pop(call.linkedid, None)
        for uid in call.channels:
            self._chan.pop(uid, None)
            self._remember(self._ended, uid)
        call.channels.clear()
        if call.linkedid in self._emitted:
            return
        self._remember(self._emitted, call.linkedid)
        if not call.root_seen and not call.gap:
            # Joined mid-call at start: what happened before is unknown, so never reported.
            self.stats.partial_dropped += 1
            return
        self.stats.calls_emitted += 1
        done.append(classify(call, self._direction(call), ts, self._pbx))

    def _direction(self, call: CallState) -> Direction:
        if call.root_in_trunk or call.from_did:
            return Direction.INBOUND
        if self._is_internal(call.root_context):
            return Direction.OUTBOUND if call.trunk_leg else Direction.INTERNAL
        if call.root_context and call.root_context not in self.stats.unknown_contexts:
            self.stats.unknown_contexts.add(call.root_context)
            log.warning(
                "context %r is neither a trunk nor an internal context: calls from it count "
                "as outbound and are never texted; add it to tracker.trunk_contexts or "
                "tracker.internal_contexts",
                call.root_context,
            )
        return Direction.OUTBOUND

    # -- event handlers -----------------------------------------------------------------

    def _on_newchannel(self, call: CallState, ev: Event, uid: str, ts: float) -> None:
        if uid == call.linkedid and not call.root_seen:
            self._root_snapshot(call, ev, "Newchannel")
            call.started_at = ts

    def _on_newstate(self, call: CallState, ev: Event, uid: str, ts: float) -> None:
        if uid == call.linkedid and ev.get("ChannelStateDesc") == "Up" and call.root_up_at is None:
            call.root_up_at = ts

    def _on_callerid(self, call: CallState, ev: Event, uid: str, ts: float) -> None:
        # A CNAM lookup may fill the name in after the call started; keep the first real one.
        if uid == call.linkedid and not call.caller_name:
            call.caller_name = _clean_name(ev.get("CallerIDName", ""))

    def _on_newexten(self, call: CallState, ev: Event, uid: str, ts: float) -> None:
        call.saw_newexten = True
        if uid == call.linkedid and not call.root_in_trunk:
            call.root_in_trunk = self._is_trunk(ev.get("Context", ""))
        app = ev.get("Application", "").lower()
        if app == "voicemailmain":
            call.vm_main = True  # checking messages: its MessageWaiting is not a deposit
        elif app == "voicemail" and not call.caller_gone:
            # VoiceMail on a channel whose caller already hung up is the dialplan running on
            # a dead channel (VMSTATUS=FAILED follows): not "reached voicemail".
            call.vm_reached = True
            call.mailbox = mailbox_from_appdata(ev.get("AppData", "")) or call.mailbox

    def _on_dialbegin(self, call: CallState, ev: Event, uid: str, ts: float) -> None:
        dest = ev.get("DestUniqueid", "")
        by_root = uid == call.linkedid and not call.in_queue
        if by_root and not any(call.active_dials.values()):
            call.round_statuses = []  # a new dial round from the caller's channel
        call.active_dials[dest] = by_root
        if call.first_ring_at is None:
            call.first_ring_at = ts
        if self._is_trunk(ev.get("DestContext", "")):
            call.trunk_leg = True
            if not call.dialed_number:
                # Dial(PJSIP/2125550147@carrier) -> DialString "2125550147@carrier".
                dial = ev.get("DialString", "").split("@", 1)[0].rsplit("/", 1)[-1]
                call.dialed_number = dial

    def _on_dialend(self, call: CallState, ev: Event, uid: str, ts: float) -> None:
        dest = ev.get("DestUniqueid", "")
        status = ev.get("DialStatus", "")
        by_root = call.active_dials.pop(dest, None)
        if status == "ANSWER":
            edge = DialEdge(dest, ev.get("DestChannel", ""), ts)
            call.answered_edges.setdefault(uid, []).append(edge)
        if by_root:
            call.round_statuses.append(status)
            if not any(call.active_dials.values()) and all(
                s == "CANCEL" for s in call.round_statuses
            ):
                # Every phone the caller's channel rang was cancelled and nobody answered:
                # the caller hung up while ringing (also when HangupRequest is filtered).
                call.hung_up_ringing = True
                call.caller_gone = True
        if not call.active_dials:
            call.ring_end_at = ts

    def _on_agentconnect(self, call: CallState, ev: Event, uid: str, ts: float) -> None:
        if call.agent_answer is None:
            who = ev.get("DestChannel") or ev.get("Interface") or ev.get("MemberName", "agent")
            call.agent_answer = (who, ts)

    def _on_queue_join(self, call: CallState, ev: Event, uid: str, ts: float) -> None:
        call.queue = ev.get("Queue") or call.queue
        call.in_queue = True
        call.queue_left_alive = False

    def _on_queue_leave(self, call: CallState, ev: Event, uid: str, ts: float) -> None:
        if call.in_queue:
            call.in_queue = False
            call.queue_left_at = ts
            call.queue_left_alive = not call.caller_gone

    def _on_queue_abandon(self, call: CallState, ev: Event, uid: str, ts: float) -> None:
        # Asterisk 22 also sends QueueCallerAbandon when the queue times out: the caller
        # hanging up while queued (see _caller_gone) is what makes it an abandon.
        call.abandon_event_at = ts

    def _on_hangup_request(self, call: CallState, ev: Event, uid: str, ts: float) -> None:
        if uid == call.linkedid:
            call.saw_hangup_request = True
            self._caller_gone(call, ts)

    def _caller_gone(self, call: CallState, ts: float) -> None:
        if call.caller_gone:
            return
        call.caller_gone = True
        if call.in_queue:
            call.abandoned = True
        elif call.active_dials:
            call.hung_up_ringing = True
        elif (
            not call.saw_hangup_request
            and call.abandon_event_at is not None
            and call.queue_left_at is not None
            and ts - call.queue_left_at < _ABANDON_HANGUP_GAP
        ):
            # HangupRequest filtered out: an abandon followed by the caller's own hangup with
            # nothing in between means the caller left the queue by hanging up.
            call.abandoned = True
            call.queue_left_alive = False

    def _on_mwi(self, call: CallState, ev: Event, uid: str, ts: float) -> None:
        if self._mwi_update(ev) and not call.vm_main:
            call.mwi_message = True
            call.mailbox = ev.get("Mailbox") or call.mailbox

    def _mwi_update(self, ev: Event) -> bool:
        """Record a mailbox's new-message count; True when a message was just left."""
        try:
            new = int(ev.get("New", "0"))
            old = int(ev.get("Old", "0"))
        except ValueError:
            self.stats.malformed += 1
            return False
        return self._mailboxes.update(ev.get("Mailbox", ""), ev.get("Waiting", ""), new, old)

    def _on_pickup(self, ev: Event, ts: float) -> None:
        target = self._chan.get(ev.get("TargetUniqueid", "")) or self._calls.get(
            ev.get("TargetLinkedid", "")
        )
        if target is not None and target.pickup is None:
            target.pickup = (ev.get("Channel", "pickup"), ts)
