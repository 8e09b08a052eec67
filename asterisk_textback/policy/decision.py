"""The policy's output: send a text (which, to whom, when) or suppress it, and why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from asterisk_textback.calls.utc import utc
from asterisk_textback.policy.hours import Routing


class Action(StrEnum):
    """Send or not; stored as ``calls.decision`` (``store.models.DecisionAction`` is this enum)."""

    SEND = "send"
    SUPPRESS = "suppress"


class SuppressReason(StrEnum):
    """Why no text is sent for a call; every suppression records exactly one."""

    # The call
    INTERNAL = "internal"
    OUTBOUND = "outbound"
    ANSWERED = "answered"
    UNKNOWN_OUTCOME = "unknown_outcome"
    EXPIRED = "expired"
    MISDIAL = "misdial"
    IVR_EXCLUDED = "ivr_excluded"
    EXCLUDED_BY_DIALPLAN = "excluded_by_dialplan"
    # The number
    ANONYMOUS = "anonymous"
    SHORT_CODE = "short_code"
    INVALID_NUMBER = "invalid_number"
    COUNTRY_NOT_ALLOWED = "country_not_allowed"
    TOLL_FREE = "toll_free"
    PREMIUM = "premium"
    SHARED_COST = "shared_cost"
    UAN = "uan"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    VOICEMAIL_NUMBER = "voicemail_number"
    FIXED_LINE = "fixed_line"
    #: The caller ID failed STIR/SHAKEN verification (or, with
    #: ``suppression.caller_verification = "passed"``, was not verified): maybe spoofed.
    CALLER_NOT_VERIFIED = "caller_not_verified"
    # The rules
    RULE_SUPPRESSED = "rule_suppressed"
    NO_RULE_MATCHED = "no_rule_matched"
    # The caller's history
    OPTED_OUT = "opted_out"
    LANDLINE = "landline"
    ALREADY_HANDLED = "already_handled"
    COOLDOWN = "cooldown"
    DAILY_CAP = "daily_cap"
    # SMS-pumping defence
    RATE_LIMITED_GLOBAL = "rate_limited_global"
    RATE_LIMITED_PREFIX = "rate_limited_prefix"
    # Timing
    #: The recipient's texting windows (quiet hours) do not open within 8 days.
    QUIET_HOURS = "quiet_hours"


def _iso(ts: float | None) -> str | None:
    return None if ts is None else utc(ts).isoformat()


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do about one ``CallEnded``; a suppression always carries its reason."""

    action: Action
    #: Where the call's end fell in the business's week (used by ``when`` in rules).
    routing: Routing
    reason: SuppressReason | None = None
    #: Human-readable specifics for logs and the dashboard ("texted 2.0 h ago").
    detail: str = ""
    #: The caller in E.164, when the number is valid.
    to: str | None = None
    #: ``+`` country code + first digits, the key of the per-prefix rate cap.
    rate_prefix: str | None = None
    #: Index into the rules and the rule's label, when a rule matched.
    rule: int | None = None
    rule_name: str | None = None
    template: str | None = None
    #: Experiment for variant assignment; None: the template's own (``experiment_name``).
    experiment: str | None = None
    #: Epoch seconds the text is due; later than the call's end by the delay or quiet hours.
    send_at: float | None = None
    #: Epoch seconds after which the dispatcher must not send it any more.
    expires_at: float | None = None
    #: True when quiet hours moved ``send_at`` to the end of the recipient's night.
    deferred: bool = False
    #: The quiet-hours rules that applied to a send, strictest first, each with its source:
    #: ``Texas (Tex. Bus. & Com. Code § 301.051), federal (47 CFR § 64.1200(c)(1))``;
    #: None when quiet hours are off or nothing was sent.
    quiet_rule: str | None = None

    @property
    def send(self) -> bool:
        """True when a text is to be sent."""
        return self.action is Action.SEND

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with ISO 8601 UTC times."""
        return {
            "action": str(self.action),
            "reason": None if self.reason is None else str(self.reason),
            "detail": self.detail,
            "routing": str(self.routing),
            "to": self.to,
            "rule": self.rule,
            "rule_name": self.rule_name,
            "template": self.template,
            "experiment": self.experiment,
            "send_at": _iso(self.send_at),
            "expires_at": _iso(self.expires_at),
            "deferred": self.deferred,
            "quiet_rule": self.quiet_rule,
        }
