"""Classify a call from its CEL events, with the live tracker's meaning of "answered".

Answered: the caller's channel was bridged with a real endpoint (not a Local ``;1``/``;2``
half, not an application): bridges are followed from the caller, across Local pairs, to the
first non-Local channel. A phone that answered inside a Local leg the caller never got
bridged to ("answered elsewhere") does not count, nor does Queue/VoiceMail/IVR answering the
caller's channel. Missed calls get the reasons of ``calls/classify.py`` as far as CEL tells
them: abandoned (hung up in Queue), caller_hangup (DIALSTATUS=CANCEL or hung up in Dial),
queue_timeout, busy, unavailable, no_answer, ivr_only. CEL cannot tell a left voicemail from
a greeting hang-up, so ``voicemail_no_message`` is never given: ``reached_voicemail`` says a
VoiceMail application answered the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from asterisk_textback.calls.model import Reason
from asterisk_textback.cdr.cel import CelCall, CelEvent
from asterisk_textback.cdr.model import (
    INBOUND_CONTEXT_PREFIXES,
    CdrOutcome,
    direction_of,
)

__all__ = ["classify_cel", "group_cel"]

_LOCAL_HALF: Final = re.compile(r"^(Local/.+);[12]$")
_CHANNEL_SUFFIX: Final = re.compile(r"-[0-9a-f]{8}(?:;\d)?$")
_DIAL_REASONS: Final = {
    "BUSY": Reason.BUSY,
    "NOANSWER": Reason.NO_ANSWER,
    "CHANUNAVAIL": Reason.UNAVAILABLE,
    "CONGESTION": Reason.UNAVAILABLE,
}


@dataclass(slots=True)
class _Channel:
    """What one channel of the call did."""

    name: str
    events: list[CelEvent] = field(default_factory=list)
    answered: bool = False
    apps: list[tuple[str, str]] = field(default_factory=list)
    dialstatus: str = ""

    def saw_app(self, event: CelEvent) -> None:
        app = (event.appname, event.appdata)
        if event.appname and (not self.apps or self.apps[-1][0] != event.appname):
            self.apps.append(app)

    def ran(self, app: str) -> bool:
        return any(name.lower() == app for name, _ in self.apps)

    @property
    def last_app(self) -> str:
        return self.apps[-1][0].lower() if self.apps else ""


def _channels(events: list[CelEvent]) -> dict[str, _Channel]:
    channels: dict[str, _Channel] = {}
    for event in events:
        channel = channels.setdefault(event.uniqueid, _Channel(event.channame))
        channel.events.append(event)
        channel.saw_app(event)
        kind = event.eventtype.upper()
        if kind == "ANSWER":
            channel.answered = True
        elif kind == "HANGUP":
            channel.dialstatus = event.extra_field("dialstatus").upper()
    return channels


def _bridge_edges(events: list[CelEvent]) -> dict[str, set[str]]:
    """Channel name -> channel names it shared a bridge with (and its Local other half)."""
    edges: dict[str, set[str]] = {}
    members: dict[str, set[str]] = {}

    def link(a: str, b: str) -> None:
        if a and b and a != b:
            edges.setdefault(a, set()).add(b)
            edges.setdefault(b, set()).add(a)

    for event in events:
        if event.eventtype.upper() != "BRIDGE_ENTER":
            continue
        bridge = event.extra_field("bridge_id")
        peers = {p.strip() for p in event.peer.split(",") if p.strip()}
        if bridge:
            peers |= members.setdefault(bridge, set())
            members[bridge].add(event.channame)
        for peer in peers:
            link(event.channame, peer)
    for name in list(edges):
        half = _LOCAL_HALF.match(name)
        if half is not None:
            other = f"{half[1]};{'2' if name.endswith(';1') else '1'}"
            link(name, other)
    return edges


def _reached(root: str, edges: dict[str, set[str]]) -> tuple[set[str], str | None]:
    """Channels on the caller's side (root, Local halves) and the endpoint bridged, if any."""
    side, stack, person = {root}, [root], None
    while stack:
        for other in sorted(edges.get(stack.pop(), ())):
            if other in side:
                continue
            if not other.startswith("Local/"):
                person = person or other
                continue
            side.add(other)
            stack.append(other)
    return side, person


def _failure(root: _Channel) -> Reason | None:
    if root.ran("queue"):
        return Reason.QUEUE_TIMEOUT
    return _DIAL_REASONS.get(root.dialstatus)


def classify_cel(
    key: str,
    events: Iterable[CelEvent],
    inbound_prefixes: tuple[str, ...] = INBOUND_CONTEXT_PREFIXES,
) -> CelCall:
    """Classify the CEL events of one call (one ``linkedid``)."""
    ordered = list(events)
    if not ordered:
        raise ValueError("a call needs at least one CEL event")
    channels = _channels(ordered)
    root = channels.get(key) or channels[ordered[0].uniqueid]
    first = root.events[0]
    side, person = _reached(root.name, _bridge_edges(ordered))
    voicemail = [
        c
        for c in channels.values()
        if c.name in side and c.answered and c.ran("voicemail") and root.dialstatus != "CANCEL"
    ]
    mailbox = None
    if person is not None:
        outcome, reason = CdrOutcome.ANSWERED, Reason.ANSWERED
    else:
        outcome = CdrOutcome.MISSED
        if root.last_app == "queue":
            reason = Reason.ABANDONED
        elif root.dialstatus == "CANCEL" or (root.last_app == "dial" and not root.dialstatus):
            reason = Reason.CALLER_HANGUP
        else:
            reason = _failure(root) or (Reason.NO_ANSWER if voicemail else Reason.IVR_ONLY)
        if voicemail:
            data = next(d for name, d in voicemail[0].apps if name.lower() == "voicemail")
            mailbox = data.split(",")[0] or None
    return CelCall(
        key=key,
        direction=direction_of(first.context, first.exten, inbound_prefixes),
        outcome=outcome,
        reason=reason,
        reached_voicemail=bool(voicemail) and person is None,
        caller=first.cid_num,
        caller_name=first.cid_name,
        did=first.exten,
        started_at=min(e.eventtime for e in ordered),
        ended_at=max(e.eventtime for e in ordered),
        answered_by=None if person is None else _CHANNEL_SUFFIX.sub("", person),
        mailbox=mailbox,
        uniqueids=frozenset(channels),
    )


def group_cel(
    events: Iterable[CelEvent],
    inbound_prefixes: tuple[str, ...] = INBOUND_CONTEXT_PREFIXES,
    complete_only: bool = False,
) -> Iterator[CelCall]:
    """Group events by ``linkedid`` and classify each call.

    A call is classified as soon as its LINKEDID_END arrives, so memory holds only the calls
    in progress; calls without one (``cel.conf`` not logging it) are classified at the end.
    With ``complete_only``, calls whose first channel's CHAN_START was not seen (they began
    before the window read) are dropped.
    """
    open_calls: dict[str, list[CelEvent]] = {}
    for event in events:
        key = event.call_key
        open_calls.setdefault(key, []).append(event)
        if event.eventtype.upper() == "LINKEDID_END":
            call = _finish(key, open_calls.pop(key), inbound_prefixes, complete_only)
            if call is not None:
                yield call
    for key, call_events in open_calls.items():
        call = _finish(key, call_events, inbound_prefixes, complete_only)
        if call is not None:
            yield call


def _finish(
    key: str, events: list[CelEvent], prefixes: tuple[str, ...], complete_only: bool
) -> CelCall | None:
    if complete_only and not any(
        e.uniqueid == key and e.eventtype.upper() == "CHAN_START" for e in events
    ):
        return None
    return classify_cel(key, events, prefixes)
