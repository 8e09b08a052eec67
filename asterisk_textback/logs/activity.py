"""The log an admin follows: one INFO line per finished call and one per text.

``call 1795757485.73 (default): inbound missed_voicemail/no_answer from +1•••••0124 to DID
5550800 -> text 7 queued (rule 'missed', template missed_voicemail, due … UTC, 5 s after
the call)``, then
``text 7 to +1•••••0124 sent via twilio id SM… in 5.03 s (attempt 1)``. The call's id and
the text's id tie the lines together (``-v`` adds the tracker's reasoning for the call under
the same id). Numbers are masked unless ``run --log-pii``.
"""

from __future__ import annotations

import logging

from asterisk_textback.calls.model import CallEnded, Direction
from asterisk_textback.calls.utc import utc
from asterisk_textback.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknownError,
    ProviderTransientError,
)
from asterisk_textback.logs.mask import phone
from asterisk_textback.policy.decision import Decision

__all__ = ["log_call", "log_text_failed", "log_text_sent"]

log = logging.getLogger(__name__)


def _direction_line(call: CallEnded, e164: str | None) -> str:
    line = f"{call.direction} {call.outcome}/{call.reason}"
    if call.direction is Direction.OUTBOUND:
        line += f" to {phone(call.dialed_number) or '?'}"
    else:
        # The E.164 form (when the policy could read the number) shows the country code.
        line += f" from {phone(e164 or call.caller_number) or 'no number'}"
        if call.did:
            line += f" to DID {call.did}"
    if call.queue:
        line += f" via queue {call.queue}"
    if call.answered_by:
        line += f", answered by {call.answered_by}"
    if call.mailbox:
        line += f", voicemail {call.mailbox}"
    return line


def log_call(
    call: CallEnded,
    decision: Decision,
    *,
    message_id: int | None,
    queued: bool,
    created: bool,
) -> None:
    """One INFO line for a recorded call: what happened, what was decided, which text."""
    if not log.isEnabledFor(logging.INFO):
        return
    head = f"call {call.linkedid} ({call.pbx}): {_direction_line(call, decision.to)}"
    if not created:
        log.info("%s -> already recorded, nothing done again", head)
        return
    if decision.send:
        why = [f"rule {decision.rule_name!r}"] if decision.rule_name else []
        if decision.template:
            why.append(f"template {decision.template}")
        if decision.send_at is not None:
            due = utc(decision.send_at)
            after = max(0.0, decision.send_at - call.ended_at)
            quiet = f", {decision.detail or 'quiet hours'}" if decision.deferred else ""
            why.append(f"due {due:%Y-%m-%d %H:%M:%S} UTC, {after:.0f} s after the call{quiet}")
        state = "queued" if queued else "not queued"
        log.info("%s -> text %s %s (%s)", head, message_id, state, ", ".join(why))
        return
    detail = f": {decision.detail}" if decision.detail else ""
    log.info("%s -> not texted: %s%s", head, decision.reason, detail)


def log_text_sent(
    message_id: int,
    to: str,
    provider: str,
    provider_message_id: str | None,
    latency: float,
    attempt: int,
) -> None:
    """One INFO line for a text the provider accepted; latency from its first due time."""
    log.info(
        "text %d to %s sent via %s id %s in %.2f s (attempt %d)",
        message_id,
        phone(to),
        provider,
        provider_message_id or "-",
        latency,
        attempt,
    )


def _next_step(exc: ProviderError) -> str:
    if isinstance(exc, ProviderTransientError | ProviderAuthError):
        return "not sent, will retry"
    if isinstance(exc, ProviderOutcomeUnknownError):
        return "may have been sent (unknown, not retried)"
    return "failed"


def log_text_failed(message_id: int, to: str, exc: ProviderError, error: str) -> None:
    """One WARNING line for a text the provider did not take, and what happens next."""
    log.warning("text %d to %s %s: %s", message_id, phone(to), _next_step(exc), error)
