"""Which AMI read classes a session has, deduced from the events it receives.

Asterisk sends an event only to sessions whose ``read`` classes include the event's class
(the ``Privilege: <class>,all`` header), and no action reports a session's own classes. So
an event that arrives proves its class; and some events prove that Asterisk *must* have sent
an event of another class, so its absence proves that class missing (or filtered out by the
user's ``eventfilter`` / ``disabledevents``). The deductions, from what Asterisk does:

- ``dialplan``: a channel created in state Ring is handed to the PBX, which publishes a
  ``Newexten`` for every priority it runs. Such a channel that then dials (``DialBegin``
  with it as the caller: Dial, Queue… are dialplan applications) without any dialplan event
  for it means ``dialplan`` is missing.
- ``call``: ``Dial`` (seen in ``Newexten``) that ends with DIALSTATUS ANSWER, NOANSWER or
  CANCEL called at least one channel, which publishes ``DialBegin``; none means ``call``.
- ``agent``: a channel running ``Queue`` that rings members (``DialBegin``), is abandoned
  (``ABANDONED=TRUE``) or leaves with a status only a queued caller gets had joined the
  queue, which publishes ``QueueCallerJoin`` (and ``AgentCalled`` per member rung) for it.
- ``user``: the ``UserEvent`` application publishes a ``UserEvent`` before the channel's
  next priority or its hangup.

Nothing here reads a clock or a socket: feed events in wire order, then ask for verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["TRACKER_CLASSES", "ClassVerdict", "PrivilegeObserver", "Verdict", "event_classes"]

#: The read classes the call tracker uses (dialplan/manager_custom.conf), in that order.
TRACKER_CLASSES: tuple[str, ...] = ("call", "agent", "user", "dialplan")

#: QUEUESTATUS values app_queue sets only on a caller that had joined the queue (FULL,
#: JOINEMPTY, JOINUNAVAIL and UNKNOWN are set when the join itself failed).
_JOINED_QUEUESTATUS = frozenset({"TIMEOUT", "LEAVEEMPTY", "LEAVEUNAVAIL", "CONTINUE", "WITHDRAW"})
#: DIALSTATUS values Dial sets only after it called at least one channel.
_DIALED_STATUS = frozenset({"ANSWER", "NOANSWER", "CANCEL"})
_RING = "4"  # AST_STATE_RING: an incoming channel about to run the dialplan
_APPDATA_SHOWN = 40


class Verdict(StrEnum):
    """What the events say about one read class."""

    GRANTED = "granted"  # an event of the class arrived
    MISSING = "missing"  # Asterisk must have sent an event of the class, and none arrived
    NOT_SEEN = "not seen"  # nothing proves it either way (an idle PBX)


@dataclass(frozen=True, slots=True)
class ClassVerdict:
    """The verdict on one class and the evidence behind it (empty when not seen)."""

    name: str
    verdict: Verdict
    evidence: str = ""


def event_classes(event: Mapping[str, str]) -> frozenset[str]:
    """The classes in an event's ``Privilege`` header, without the ``all`` every event has."""
    raw = event.get("Privilege", "")
    return frozenset(c.strip() for c in raw.split(",") if c.strip()) - {"all"}


@dataclass(slots=True)
class _Channel:
    name: str
    ring: bool = False  # created in state Ring: the PBX runs the dialplan on it
    dialplan_seen: bool = False
    agent_seen: bool = False
    app: str = ""  # the application of its latest Newexten
    app_data: str = ""
    dialed: bool = False  # a DialBegin from it since that Newexten
    joined_queue: str = ""  # why we know it joined a queue (while in Queue)


@dataclass(slots=True)
class PrivilegeObserver:
    """Feed AMI events in wire order; ask which read classes the session has."""

    events: int = 0
    _granted: dict[str, str] = field(default_factory=dict)  # class -> the event proving it
    _missing: dict[str, str] = field(default_factory=dict)  # class -> why it must be missing
    _channels: dict[str, _Channel] = field(default_factory=dict)  # by Uniqueid

    def feed(self, event: Mapping[str, str]) -> None:
        """Take one event (as parsed from the wire, ``Event`` and ``Privilege`` included)."""
        name = event.get("Event")
        if not name:
            return
        self.events += 1
        classes = event_classes(event)
        if len(classes) == 1:
            # An event of several classes proves only that one of them is granted.
            self._granted.setdefault(next(iter(classes)), name)
        uid = event.get("Uniqueid", "")
        if not uid:
            return
        chan = self._channels.get(uid)
        if chan is None:
            chan = self._channels[uid] = _Channel(event.get("Channel", uid))
        if "dialplan" in classes:
            chan.dialplan_seen = True
        if "agent" in classes:
            chan.agent_seen = True
        if name == "Newchannel":
            chan.ring = event.get("ChannelState") == _RING
        elif name == "Newexten":
            self._close_app(chan)
            chan.app = event.get("Application", "")
            chan.app_data = event.get("AppData", "")
            chan.dialed = False
            chan.joined_queue = ""
        elif name == "DialBegin":
            self._on_dial(chan)
        elif name == "VarSet":
            self._on_varset(chan, event.get("Variable", ""), event.get("Value", ""))
        elif name == "UserEvent" and chan.app == "UserEvent":
            chan.app = ""  # the UserEvent application's event arrived
        elif name == "Hangup":
            self._close_app(chan)
            self._check_queue(chan)
            del self._channels[uid]

    def verdict(self, name: str) -> ClassVerdict:
        """The verdict on one class so far (a class that arrived is granted, whatever else)."""
        if name in self._granted:
            return ClassVerdict(name, Verdict.GRANTED, f"{self._granted[name]} received")
        if name == "agent":
            for chan in self._channels.values():
                self._check_queue(chan)
        if name in self._missing:
            return ClassVerdict(name, Verdict.MISSING, self._missing[name])
        return ClassVerdict(name, Verdict.NOT_SEEN)

    def verdicts(self, names: tuple[str, ...] = TRACKER_CLASSES) -> list[ClassVerdict]:
        """The verdict on each class, in the order given."""
        return [self.verdict(name) for name in names]

    @property
    def settled(self) -> bool:
        """Every tracker class is decided (granted or proven missing): watching longer is moot."""
        return all(v.verdict is not Verdict.NOT_SEEN for v in self.verdicts())

    # -- deductions ----------------------------------------------------------------------

    def _prove_missing(self, name: str, why: str) -> None:
        self._missing.setdefault(name, why)

    def _app(self, chan: _Channel) -> str:
        data = chan.app_data
        shown = data if len(data) <= _APPDATA_SHOWN else data[:_APPDATA_SHOWN] + "…"
        return f"{chan.app}({shown})"

    def _on_dial(self, chan: _Channel) -> None:
        chan.dialed = True
        if chan.ring and not chan.dialplan_seen:
            self._prove_missing(
                "dialplan",
                f"{chan.name} came in (Newchannel, state Ring) and dialled out (DialBegin), "
                "but no Newexten/VarSet (class dialplan) arrived for it",
            )
        if chan.app == "Queue" and not chan.joined_queue:
            chan.joined_queue = "rang queue members (DialBegin)"

    def _on_varset(self, chan: _Channel, variable: str, value: str) -> None:
        if chan.app == "Dial" and variable == "DIALSTATUS" and value in _DIALED_STATUS:
            if not chan.dialed:
                self._prove_missing(
                    "call",
                    f"{chan.name} ran {self._app(chan)}, which ended with DIALSTATUS={value}, "
                    "but no DialBegin (class call) arrived for it",
                )
        elif chan.app == "Queue" and not chan.joined_queue:
            if variable == "QUEUESTATUS" and value in _JOINED_QUEUESTATUS:
                chan.joined_queue = f"left the queue with QUEUESTATUS={value}"
            elif variable == "ABANDONED" and value == "TRUE":
                chan.joined_queue = "abandoned the queue (ABANDONED=TRUE)"

    def _close_app(self, chan: _Channel) -> None:
        """The channel moved on from its application (next priority, or hangup)."""
        if chan.app == "UserEvent":
            self._prove_missing(
                "user",
                f"{chan.name} ran {self._app(chan)}, but no UserEvent (class user) arrived",
            )
        self._check_queue(chan)

    def _check_queue(self, chan: _Channel) -> None:
        if chan.joined_queue and not chan.agent_seen:
            self._prove_missing(
                "agent",
                f"{chan.name} ran {self._app(chan)} and {chan.joined_queue}, but no "
                "QueueCallerJoin/AgentCalled (class agent) arrived for it",
            )
