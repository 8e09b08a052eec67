"""Turn the facts gathered about a finished call into its outcome and reason (DESIGN §3)."""

from __future__ import annotations

import re

from asterisk_textback.calls.explain import log_reasoning
from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.calls.state import CallState
from asterisk_textback.calls.userevent import apply_report

_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{8}(?:;\d)?$")
_QUEUE_UNAVAILABLE = frozenset({"FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL"})


def device_of(channel: str) -> str:
    """``PJSIP/1003-00000041`` -> ``PJSIP/1003`` (the phone, not this call's channel)."""
    return _CHANNEL_SUFFIX.sub("", channel)


def _dial_reason(statuses: list[str]) -> Reason | None:
    """Fold a dial round's statuses the way Asterisk folds them into DIALSTATUS."""
    if not statuses:
        return None
    if "NOANSWER" in statuses:
        return Reason.NO_ANSWER
    if all(s == "BUSY" for s in statuses):
        return Reason.BUSY
    if any(s in ("CHANUNAVAIL", "CONGESTION") for s in statuses):
        return Reason.UNAVAILABLE
    if "BUSY" in statuses:
        return Reason.BUSY
    return Reason.NO_ANSWER


def _failure_reason(st: CallState) -> Reason | None:
    """Why nobody picked up, from the queue or the root's last dial round."""
    if st.queuestatus == "TIMEOUT" or (st.queue_left_alive and not st.queuestatus):
        return Reason.QUEUE_TIMEOUT
    if st.queuestatus in _QUEUE_UNAVAILABLE:
        return Reason.UNAVAILABLE
    reason = _dial_reason(st.round_statuses)
    if reason is None and st.dialstatus_var:
        # DND / unregistered phones fail Dial without any DialBegin: only DIALSTATUS tells.
        reason = _dial_reason([st.dialstatus_var])
    if reason is None and st.first_ring_at is not None:
        reason = Reason.NO_ANSWER
    return reason


def _message_left(st: CallState) -> bool:
    # VMSTATUS is authoritative when we see it (dialplan class); VM_MESSAGEFILE is not
    # (IMAP storage sets it early), so without VMSTATUS we rely on the mailbox's MWI count.
    if st.vm_status:
        return st.vm_status == "SUCCESS"
    return st.mwi_message


def _voicemail_guess(st: CallState) -> bool:
    """Without Newexten we cannot see VoiceMail() run; the root being answered by the PBX
    itself after phones rang (and nobody took it) is what VoiceMail looks like."""
    return (
        not st.saw_newexten
        and st.root_up_at is not None
        and st.first_ring_at is not None
        and st.root_up_at >= st.first_ring_at
        and st.queue is None
    )


def _gap_hook_answer(st: CallState) -> tuple[str, float] | None:
    """With a gap in the events, any answer the hook reports counts (even through a Local
    channel: the DialEnd that would tell a person from a follow-me voicemail may be lost)."""
    report = st.hook
    if not st.gap or report is None or report.dialstatus != "ANSWER":
        return None
    return report.dialed_peer or "unknown", report.at - report.answered_seconds


def classify(st: CallState, direction: Direction, ended_at: float, pbx: str) -> CallEnded:
    """The one ``CallEnded`` record for a call whose last channel is gone."""
    hook_answer = apply_report(st)  # the dialplan hook refines the events (userevent.py)
    answer = st.person_answer() or hook_answer or _gap_hook_answer(st)
    mailbox = st.mailbox
    ring_end: float | None
    if answer is not None:
        outcome, reason = Outcome.ANSWERED, Reason.ANSWERED
        ring_end = answer[1]
        mailbox = None
    elif st.lost is not None or (st.gap and st.hook is None):
        # Events are missing and nothing whole tells what happened: the CDR may (catchup.py).
        outcome, reason = Outcome.UNKNOWN, st.lost or Reason.CONNECTION_LOST
        ring_end = st.ring_end_at
    else:
        left = _message_left(st)
        outcome = Outcome.MISSED_VOICEMAIL if left else Outcome.MISSED_NO_VOICEMAIL
        ring_end = st.ring_end_at
        failure = _failure_reason(st)
        if st.abandoned:
            reason = Reason.ABANDONED
        elif st.hung_up_ringing:
            reason = Reason.CALLER_HANGUP
        elif left:
            reason = failure or Reason.NO_ANSWER
        elif st.vm_reached or _voicemail_guess(st):
            reason = Reason.VOICEMAIL_NO_MESSAGE
        else:
            reason = failure or Reason.IVR_ONLY
    ring_seconds = 0.0
    if st.first_ring_at is not None:
        ring_seconds = max(0.0, (ring_end if ring_end is not None else ended_at) - st.first_ring_at)
    did = (st.from_did or st.did_exten) if direction is Direction.INBOUND else ""
    ended = CallEnded(
        linkedid=st.linkedid,
        direction=direction,
        outcome=outcome,
        reason=reason,
        caller_number=st.caller_number,
        caller_name=st.caller_name,
        did=did,
        queue=st.queue,
        mailbox=mailbox,
        started_at=st.started_at,
        ended_at=ended_at,
        ring_seconds=ring_seconds,
        answered_by=device_of(answer[0]) if answer is not None else None,
        pbx=pbx,
        dialed_number=(st.dialed_number or st.did_exten) if direction is Direction.OUTBOUND else "",
        excluded=st.hook is not None and st.hook.excluded,
        disclosure_played=st.hook is not None and st.hook.disclosure,
        caller_verification=None if st.hook is None else st.hook.verification,
    )
    log_reasoning(st, ended)  # run -v: why, for the admin following this call
    return ended
