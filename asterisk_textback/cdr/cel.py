"""CEL (Channel Event Logging) events, and calls classified from them.

CEL logs each channel's lifecycle (CHAN_START, ANSWER, APP_START, BRIDGE_ENTER, HANGUP,
CHAN_END) and closes a call with LINKEDID_END; every event carries the call's ``linkedid``.
That is enough to apply the live tracker's meaning of "answered": the caller's channel was
bridged with a real endpoint, hopping across Local ``;1``/``;2`` halves, not merely answered
by Queue, VoiceMail or an IVR (CDR's ``ANSWERED``). The classifier is in ``celclassify.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from asterisk_textback.calls.model import Reason
from asterisk_textback.cdr.model import NO_NUMBER, CdrDirection, CdrOutcome

__all__ = ["CEL_FIELDS", "CelCall", "CelEvent"]

#: The CEL fields this package reads, named as FreePBX's ``asteriskcdrdb.cel`` columns.
CEL_FIELDS: Final = (
    "eventtype",
    "eventtime",
    "cid_name",
    "cid_num",
    "cid_dnid",
    "exten",
    "context",
    "channame",
    "appname",
    "appdata",
    "uniqueid",
    "linkedid",
    "peer",
    "extra",
)


@dataclass(frozen=True, slots=True)
class CelEvent:
    """One CEL record (the columns the classifier needs)."""

    eventtype: str
    eventtime: datetime
    channame: str
    uniqueid: str
    linkedid: str
    cid_name: str = ""
    cid_num: str = ""
    cid_dnid: str = ""
    exten: str = ""
    context: str = ""
    appname: str = ""
    appdata: str = ""
    peer: str = ""
    #: JSON in Asterisk 12+ (``{"bridge_id": …}``, ``{"hangupcause": …, "dialstatus": …}``).
    extra: str = ""

    @property
    def call_key(self) -> str:
        """The id shared by every event of one call."""
        return self.linkedid or self.uniqueid

    def extra_field(self, name: str) -> str:
        """One key of the JSON ``extra`` column, or "" (older Asterisk wrote plain text)."""
        if not self.extra.startswith("{"):
            return ""
        try:
            data = json.loads(self.extra)
        except ValueError:
            return ""
        value = data.get(name, "") if isinstance(data, dict) else ""
        return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class CelCall:
    """One call classified from CEL: the fields a :class:`~.model.CdrCall` summary reads."""

    key: str
    direction: CdrDirection
    outcome: CdrOutcome
    reason: Reason
    #: VoiceMail answered the caller (left message or greeting hang-up: CEL cannot tell).
    reached_voicemail: bool
    caller: str
    caller_name: str
    did: str
    started_at: datetime
    ended_at: datetime
    #: The device that took the call (``PJSIP/1001``), None when missed.
    answered_by: str | None = None
    #: ``1001@default`` when a VoiceMail application answered the caller.
    mailbox: str | None = None
    #: Every channel ``uniqueid`` of the call (CDR rows are keyed by one of them).
    uniqueids: frozenset[str] = frozenset()

    @property
    def source(self) -> str:
        """Which log classified the call."""
        return "cel"

    @property
    def textable(self) -> bool:
        """False when there is no caller number to text (anonymous, withheld)."""
        return self.caller.strip().lower() not in NO_NUMBER
