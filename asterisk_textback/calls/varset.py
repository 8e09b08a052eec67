"""The dialplan variables the tracker follows (``VarSet``): what they say about a call.

A function of the event and the call alone, like ``userevent.on_userevent``; which variables
are delivered at all is ``ami.framing.TRACKED_VARIABLES``.
"""

from __future__ import annotations

from collections.abc import Mapping

from asterisk_textback.calls.state import CallState
from asterisk_textback.calls.voicemail import mailbox_from_path

__all__ = ["on_varset"]

Event = Mapping[str, str]


def on_varset(call: CallState, ev: Event, uid: str, ts: float) -> None:
    """Fold one tracked ``VarSet`` (VMSTATUS, VM_MESSAGEFILE, QUEUESTATUS, DIALSTATUS,
    FROM_DID) into the call; the tracker filters the rest out before."""
    var = ev.get("Variable", "")
    value = ev.get("Value", "")
    if var == "VMSTATUS":
        if value:
            call.vm_status = value
    elif var == "VM_MESSAGEFILE":
        if value and call.mailbox is None:
            call.mailbox = mailbox_from_path(value)
    elif var == "QUEUESTATUS":
        call.queuestatus = value
    elif uid == call.linkedid:
        if var == "DIALSTATUS":
            call.dialstatus_var = value
        elif value:  # FROM_DID / __FROM_DID on the caller's channel: an inbound route
            call.from_did = value
