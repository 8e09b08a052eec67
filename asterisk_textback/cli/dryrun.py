"""``replay --dry-run``: what the policy would decide for each call, with no history."""

from __future__ import annotations

from typing import Any

from asterisk_textback.calls.model import CallEnded
from asterisk_textback.policy.decide import decide
from asterisk_textback.policy.history import NO_HISTORY
from asterisk_textback.templates.compose import compose
from asterisk_textback.textback.loading import PreparedConfig


def dry_run(call: CallEnded, loaded: PreparedConfig) -> dict[str, Any]:
    """The ``decision`` object for one call: a fresh contact history, ``now`` = its end."""
    decision = decide(call, NO_HISTORY, loaded.settings, call.ended_at)
    out: dict[str, Any] = {
        "action": str(decision.action),
        "reason": None if decision.reason is None else str(decision.reason),
        "detail": decision.detail,
        # The quiet-hours rules that applied, with their sources (None when off or suppressed).
        "quiet_rule": decision.quiet_rule,
        "routing": str(decision.routing),
        "rule": decision.rule,
        "template": None,
        "variant": None,
        "to": decision.to,
        "sender": None,
        "body": None,
        "segments": None,
        "encoding": None,
        "send_at": None,
        "expires_at": None,
    }
    if decision.send:
        draft = compose(call, decision, loaded.settings, loaded.renderer, first_contact=True)
        out.update(draft.to_json())
    return out
