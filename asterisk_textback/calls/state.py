"""Mutable per-call facts gathered by the tracker while a call is up (one per Linkedid)."""

from __future__ import annotations

from dataclasses import dataclass, field

from asterisk_textback.calls.hookreport import HookReport
from asterisk_textback.calls.model import Reason

#: DialEnd statuses, from best to worst, the way Asterisk folds several into DIALSTATUS.
DIAL_FAILURES = ("NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION")


class DialEdge:
    """A DialEnd ANSWER: ``dialer`` got ``dest`` on the line at ``at``."""

    __slots__ = ("at", "dest", "dest_name")

    def __init__(self, dest: str, dest_name: str, at: float) -> None:
        self.dest = dest
        self.dest_name = dest_name
        self.at = at


class CallState:
    """Everything the tracker has learnt about one call so far.

    Only facts that matter for classification are kept; the channel set drives the call's
    end (its last channel gone).
    """

    __slots__ = (
        "abandon_event_at",
        "abandoned",
        "active_dials",
        "agent_answer",
        "answered_edges",
        "caller_gone",
        "caller_name",
        "caller_number",
        "channels",
        "dialed_number",
        "dialstatus_var",
        "did_exten",
        "first_ring_at",
        "from_did",
        "gap",
        "hook",
        "hung_up_ringing",
        "in_queue",
        "last_event_at",
        "linkedid",
        "local_halves",
        "local_peer",
        "lost",
        "mailbox",
        "mwi_message",
        "pickup",
        "queue",
        "queue_left_alive",
        "queue_left_at",
        "queuestatus",
        "ring_end_at",
        "root_context",
        "root_in_trunk",
        "root_seen",
        "root_up_at",
        "round_statuses",
        "saw_hangup_request",
        "saw_newexten",
        "started_at",
        "trunk_leg",
        "vm_main",
        "vm_reached",
        "vm_status",
    )

    def __init__(self, linkedid: str, started_at: float) -> None:
        self.linkedid = linkedid
        self.started_at = started_at
        self.last_event_at = started_at
        #: Uniqueid -> channel name of every channel of this call still up.
        self.channels: dict[str, str] = {}
        #: True once we saw the root channel's Newchannel (we watched the call from its start).
        self.root_seen = False
        self.root_context = ""
        self.root_in_trunk = False
        self.trunk_leg = False
        self.caller_number = ""
        self.caller_name = ""
        self.did_exten = ""
        self.dialed_number = ""
        self.from_did = ""
        self.root_up_at: float | None = None
        self.caller_gone = False
        self.saw_hangup_request = False
        self.saw_newexten = False
        # Dialling.
        self.active_dials: dict[str, bool] = {}  # dest uniqueid -> dialled by the root (non-queue)
        self.round_statuses: list[str] = []  # DialEnd statuses of the root's latest dial round
        self.dialstatus_var = ""
        self.first_ring_at: float | None = None
        self.ring_end_at: float | None = None
        self.hung_up_ringing = False
        self.answered_edges: dict[str, list[DialEdge]] = {}
        self.local_halves: dict[str, list[str]] = {}  # Local base name -> [uid;1, uid;2]
        self.local_peer: dict[str, str] = {}
        self.agent_answer: tuple[str, float] | None = None
        self.pickup: tuple[str, float] | None = None
        # Queues.
        self.queue: str | None = None
        self.in_queue = False
        self.abandoned = False
        self.abandon_event_at: float | None = None
        self.queue_left_at: float | None = None
        self.queue_left_alive = False
        self.queuestatus = ""
        # Voicemail.
        self.vm_reached = False
        self.vm_main = False
        self.vm_status = ""
        self.mwi_message = False
        self.mailbox: str | None = None
        #: Set when facts are missing (AMI outage, TTL eviction): never classify on a guess.
        self.lost: Reason | None = None
        #: The dialplan hook's UserEvent(TextBack) for this call, when one arrived.
        self.hook: HookReport | None = None
        #: The AMI link was blind for part of this call (a reconnect happened while it was
        #: up): events may be missing, so only an answer seen, the hook's report or the CDR
        #: may decide it.
        self.gap = False

    def forget_dead(self, alive: frozenset[str]) -> list[str]:
        """After a reconnect: drop channels (and dials to them) not alive any more."""
        dead = [u for u in self.channels if u not in alive]
        for uid in dead:
            del self.channels[uid]
            self.active_dials.pop(uid, None)
        return dead

    def add_local_half(self, uniqueid: str, name: str) -> None:
        """Pair the two halves (;1 and ;2) of a Local channel by their shared base name."""
        base, _, _ = name.rpartition(";")
        halves = self.local_halves.setdefault(base, [])
        halves.append(uniqueid)
        if len(halves) == 2:
            self.local_peer[halves[0]] = halves[1]
            self.local_peer[halves[1]] = halves[0]

    def person_answer(self) -> tuple[str, float] | None:
        """Who answered and when, if a real phone (not a Local half) got connected to the root.

        Follows DialEnd ANSWER edges from the root, hopping across Local ;1/;2 pairs: a phone
        that answered inside a Local leg the root then cancelled ("answered elsewhere") does
        not count. AgentConnect and Pickup count directly.
        """
        found: tuple[str, float] | None = None
        seen = {self.linkedid}
        stack: list[tuple[str, float | None]] = [(self.linkedid, None)]
        while stack:
            uid, first_at = stack.pop()
            for edge in self.answered_edges.get(uid, ()):
                at = first_at if first_at is not None else edge.at
                if not edge.dest_name.startswith("Local/"):
                    if found is None or at < found[1]:
                        found = (edge.dest_name, at)
                    continue
                peer = self.local_peer.get(edge.dest)
                if peer is not None and peer not in seen:
                    seen.add(peer)
                    stack.append((peer, at))
        for other in (self.agent_answer, self.pickup):
            if other is not None and (found is None or other[1] < found[1]):
                found = other
        return found


@dataclass(slots=True)
class TrackerStats:
    """Counters a dashboard or a test can read."""

    events: int = 0
    calls_emitted: int = 0
    partial_dropped: int = 0
    evicted: int = 0
    late_events: int = 0
    malformed: int = 0
    unknown_contexts: set[str] = field(default_factory=set)
