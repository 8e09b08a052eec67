"""The dialplan hook's ``UserEvent(TextBack, …)``: parse it and fold its facts into a call.

The hangup handler in ``dialplan/`` runs on the caller's (trunk) channel while it hangs up,
so its UserEvent arrives before that channel's ``Hangup`` and carries the channel's own
snapshot headers (``Uniqueid``/``Linkedid``); the tracker routes it like any channel event.
Its body reports the variables Asterisk left on that channel (DESIGN §10).

Precedence (why: each source is exact about different things):

- **answered** stays answered. A person answer seen in events (DialEnd ANSWER chain to a
  real phone, AgentConnect, Pickup) is never undone: DIALSTATUS only describes the *last*
  Dial, so a caller answered at the front desk and then transferred to voicemail reports
  NOANSWER + VMSTATUS=SUCCESS. The hook only *adds* an answer the events missed (Dial or
  Queue events filtered out): DIALSTATUS=ANSWER to a real device, ANSWER through a Local
  channel when no Dial event of the call was seen at all, or ANSWEREDTIME > 0 without
  DIALSTATUS=ANSWER (app_queue connected a member). ANSWER through a Local channel with
  Dial events present is left to the events: a follow-me leg answered by its own
  voicemail also reports ANSWER, and only the Local hop analysis tells the two apart.
- **message left**: VMSTATUS=SUCCESS on the caller's channel is VoiceMail's own verdict
  (at least ``minsecs`` saved); it is added to, never replaced by, the event facts (a
  message left on a Local leg shows only in events).
- **reason**: the hook's unambiguous facts are applied (DIALSTATUS=CANCEL: hung up while
  ringing; ABANDONED=TRUE without QUEUESTATUS: abandoned, since Asterisk 22 also sets
  ABANDONED on a queue timeout; QUEUESTATUS; DIALSTATUS for DND/unregistered phones);
  ordering facts only events know (which of two apps ran last) keep coming from events.
- **DID** and **exclusion** come from the hook alone: its own copy of the dialled number
  survives routes that never set FROM_DID, and ``Exclude: yes`` (``TEXTBACK=no``) flags
  the call so the policy suppresses it; the call is still emitted and recorded.
- **disclosure** and **caller verification** come from the hook alone (hook version 2):
  ``Disclosure: yes`` when the spoken disclosure played to its end; ``StirShaken``,
  ``FromHeader`` and ``PAIHeader`` normalised by ``verification.py``. An answer by the
  disclosure (Answer() before Playback) is not a person answering: only DialEnd, Agent,
  Pickup and the hook's DIALSTATUS/ANSWEREDTIME ever make a call answered.
"""

from __future__ import annotations

from collections.abc import Mapping

from asterisk_textback.calls.hookreport import HookReport
from asterisk_textback.calls.state import CallState
from asterisk_textback.calls.verification import CallerVerification, verification_of

#: The event name the hook passes to ``UserEvent()``.
TEXTBACK_EVENT = "TextBack"
#: DIALSTATUS values of a Dial that ended without an answer (CANCEL: the caller hung up).
_DIAL_FAILED = frozenset({"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION"})
#: Body keys of hook version 2 that carry the caller ID verification.
_VERIFICATION_KEYS = ("StirShaken", "FromHeader", "PAIHeader")

Event = Mapping[str, str]


def _word(ev: Event, key: str) -> str:
    return ev.get(key, "").strip().upper()


def _mailbox(value: str) -> str | None:
    box, at, context = value.strip().partition("@")
    return f"{box}@{context}" if box and at and context else None


def _seconds(value: str) -> int:
    try:
        return max(0, int(value.strip() or "0"))
    except ValueError:
        return 0


def _verification(ev: Event) -> CallerVerification | None:
    """The caller ID verification the hook reported; None from a hook without the keys."""
    if not any(key in ev for key in _VERIFICATION_KEYS):
        return None
    headers = (ev.get("PAIHeader", ""), ev.get("FromHeader", ""))
    return verification_of(ev.get("StirShaken", ""), headers)


def parse_report(ev: Event, at: float) -> HookReport | None:
    """The report in a ``UserEvent: TextBack`` frame; None for any other UserEvent."""
    if ev.get("UserEvent") != TEXTBACK_EVENT:
        return None
    uid = ev.get("Uniqueid") or ev.get("CallUniqueid", "")
    return HookReport(
        uniqueid=uid,
        linkedid=ev.get("Linkedid") or ev.get("CallLinkedid") or uid,
        did=ev.get("DID", "").strip(),
        caller=ev.get("CallerID", "").strip(),
        dialstatus=_word(ev, "DialStatus"),
        dialed_peer=ev.get("DialedPeer", "").strip(),
        vmstatus=_word(ev, "VMStatus"),
        mailbox=_mailbox(ev.get("Mailbox", "")),
        queuestatus=_word(ev, "QueueStatus"),
        abandoned=_word(ev, "Abandoned") == "TRUE",
        answered_seconds=_seconds(ev.get("AnsweredTime", "")),
        excluded=_word(ev, "Exclude") == "YES",
        at=at,
        disclosure=_word(ev, "Disclosure") == "YES",
        verification=_verification(ev),
    )


def on_userevent(call: CallState, ev: Event, uid: str, ts: float) -> None:
    """Tracker handler: keep the report of the call's root channel (else the first one)."""
    report = parse_report(ev, ts)
    if report is None:
        return
    if uid == call.linkedid:
        # The hook is armed only in the trunk wrapper context: the caller came in on a trunk.
        call.root_in_trunk = True
    elif call.hook is not None:
        return
    call.hook = report
    if report.did:
        call.from_did = report.did


def _hook_answer(st: CallState, report: HookReport) -> tuple[str, float] | None:
    """An answer only the hook shows (Dial/Queue events filtered or lost), else None."""
    at = report.at - report.answered_seconds
    if report.dialstatus == "ANSWER":
        peer = report.dialed_peer
        if peer and not peer.startswith("Local/"):
            return peer, at
        # Through a Local channel (or an unnamed peer): events, when there are any, decide.
        return (peer or "unknown", at) if st.first_ring_at is None else None
    if report.answered_seconds > 0:
        # ANSWEREDTIME without DIALSTATUS=ANSWER: app_queue connected a member.
        return f"Queue/{st.queue}" if st.queue else "queue member", at
    return None


def apply_report(st: CallState) -> tuple[str, float] | None:
    """Fold the hook's facts into ``st``; return an answer only the hook shows, if any."""
    report = st.hook
    if report is None:
        return None
    if report.vmstatus == "SUCCESS" or (report.vmstatus and not st.vm_status):
        st.vm_status = report.vmstatus
    if report.vmstatus and report.dialstatus != "CANCEL":
        # VoiceMail ran on the live caller channel (after CANCEL it ran on a dead one).
        st.vm_reached = True
    if report.mailbox:
        st.mailbox = report.mailbox
    if report.queuestatus:
        st.queuestatus = report.queuestatus
    elif report.abandoned and not st.abandoned:
        st.abandoned = True
        st.queue_left_alive = False
    if report.dialstatus == "CANCEL" and not st.abandoned:
        st.hung_up_ringing = True
        st.caller_gone = True
    elif report.dialstatus in _DIAL_FAILED:
        st.dialstatus_var = report.dialstatus
    return _hook_answer(st, report)
