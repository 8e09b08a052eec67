"""Why the tracker classified a call as it did: the facts behind ``CallEnded`` (DEBUG log).

One line per finished call, logged under the tracker's logger at DEBUG (``run -v``) under the call's
Linkedid, next to the INFO line that says what was decided: an admin who wonders why a
caller was (not) texted reads the facts the classification used, not the raw events.
"""

from __future__ import annotations

import logging

from asterisk_textback.calls.model import CallEnded
from asterisk_textback.calls.state import CallState
from asterisk_textback.logs.mask import phone

__all__ = ["explain", "log_reasoning"]

log = logging.getLogger("asterisk_textback.calls.tracker")


def _answer(st: CallState) -> str:
    person = st.person_answer()
    if person is not None:
        return f"a person answered ({person[0]})"
    if st.answered_edges:
        return "answered only by Local halves or cancelled legs (not a person)"
    return "nobody answered"


def explain(st: CallState, ended: CallEnded) -> str:
    """The facts of ``st`` that led to ``ended``'s outcome and reason, as one line."""
    facts = [
        f"root context {st.root_context or '?'}"
        + (" (trunk)" if st.root_in_trunk else "")
        + (f", FROM_DID {st.from_did}" if st.from_did else ""),
        f"caller {phone(st.caller_number) or 'none'}",
        _answer(st),
    ]
    if st.round_statuses or st.dialstatus_var:
        statuses = ",".join(st.round_statuses) or "-"
        facts.append(f"last dial round {statuses}, DIALSTATUS {st.dialstatus_var or '-'}")
    if st.first_ring_at is not None:
        facts.append(f"rang {ended.ring_seconds:.1f} s")
    if st.queue is not None:
        queue = f"queue {st.queue} QUEUESTATUS {st.queuestatus or '-'}"
        facts.append(queue + (", abandoned" if st.abandoned else ""))
    if st.hung_up_ringing:
        facts.append("caller hung up while ringing")
    if st.vm_reached or st.vm_status or st.mwi_message:
        facts.append(
            f"voicemail reached={st.vm_reached} VMSTATUS {st.vm_status or '-'} "
            f"new message (MWI)={st.mwi_message}"
        )
    if not st.saw_newexten:
        facts.append("no Newexten events (dialplan class not granted): voicemail guessed")
    if st.hook is not None:
        hook = st.hook
        facts.append(
            f"hook report DIALSTATUS {hook.dialstatus or '-'} VMSTATUS {hook.vmstatus or '-'}"
            + (" TEXTBACK=no" if hook.excluded else "")
        )
    if st.lost is not None:
        facts.append(f"facts missing: {st.lost}")
    verdict = f"{ended.direction} {ended.outcome}/{ended.reason}"
    return f"call {ended.linkedid} classified {verdict}: " + "; ".join(facts)


def log_reasoning(st: CallState, ended: CallEnded) -> None:
    """Log :func:`explain` at DEBUG (``run -v``); costs nothing when DEBUG is off."""
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s", explain(st, ended))
