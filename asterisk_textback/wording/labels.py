"""Plain-English labels for what the service records (pure: no I/O).

Pages, CSV exports, reports and the texts and emails to staff show these; the API and the
database keep the raw values (``missed_no_voicemail``, ``caller_hangup``) so programs can
match on them. An unknown value (a newer database, a future reason) is still readable:
underscores become spaces.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "DECISIONS",
    "INBOUND_KINDS",
    "MESSAGE_KINDS",
    "MESSAGE_STATUSES",
    "OUTCOMES",
    "REASONS",
    "decision_label",
    "inbound_label",
    "message_kind_label",
    "outcome_label",
    "reason_label",
    "status_label",
]

#: ``calls.model.Outcome``
OUTCOMES: Mapping[str, str] = {
    "answered": "Answered",
    "missed_voicemail": "Missed, left a voicemail",
    "missed_no_voicemail": "Missed, no voicemail",
    "unknown": "Not sure (the PBX link dropped)",
}

#: ``calls.model.Reason``: why the call ended the way it did.
REASONS: Mapping[str, str] = {
    "answered": "someone picked up",
    "no_answer": "nobody picked up",
    "busy": "the line was busy",
    "unavailable": "no phone could ring",
    "caller_hangup": "the caller hung up while it rang",
    "abandoned": "the caller hung up in the queue",
    "queue_timeout": "the queue timed out",
    "voicemail_no_message": "reached voicemail, left no message",
    "ivr_only": "the caller left the menu without reaching anyone",
    "connection_lost": "the PBX link dropped during the call",
    "evicted": "the call was never seen to end",
}

#: ``policy.decision.SuppressReason`` and the two actions: why a call was (not) texted.
DECISIONS: Mapping[str, str] = {
    "send": "Texted",
    "suppress": "Not texted",
    "internal": "internal call",
    "outbound": "outgoing call",
    "answered": "the call was answered",
    "unknown_outcome": "the call's outcome is unknown",
    "expired": "too late to text",
    "misdial": "too short to be a real call",
    "ivr_excluded": "ended in an excluded menu option",
    "excluded_by_dialplan": "excluded by the dialplan",
    "anonymous": "no caller number",
    "short_code": "a short code",
    "invalid_number": "not a valid phone number",
    "country_not_allowed": "a country not texted",
    "toll_free": "a toll-free number",
    "premium": "a premium-rate number",
    "shared_cost": "a shared-cost number",
    "uan": "a company switchboard number",
    "voip": "an internet (VoIP) number",
    "personal_number": "a personal forwarding number",
    "pager": "a pager",
    "voicemail_number": "a voicemail access number",
    "fixed_line": "a landline",
    "caller_not_verified": "caller ID not verified (may be spoofed)",
    "rule_suppressed": "a rule says not to text",
    "no_rule_matched": "no rule covers this call",
    "opted_out": "the caller opted out",
    "landline": "a landline",
    "already_handled": "already texted for this call",
    "cooldown": "texted recently",
    "daily_cap": "daily limit reached",
    "rate_limited_global": "sending limit reached",
    "rate_limited_prefix": "too many texts to this area",
    "quiet_hours": "no allowed texting hours for this number soon",
}

#: ``outbox.status.MessageStatus``
MESSAGE_STATUSES: Mapping[str, str] = {
    "queued": "waiting to send",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "failed": "failed",
    "unknown": "unclear (check the provider)",
    "cancelled": "cancelled",
    "expired": "too late, not sent",
    "suppressed": "not sent",
}

#: The outbox's ``messages.kind``: what we sent.
MESSAGE_KINDS: Mapping[str, str] = {
    "textback": "text-back",
    "staff_reply": "staff reply",
    "forward": "reply forwarded to staff",
    "optout_confirm": "opt-out confirmation",
    "optin_confirm": "opt-in confirmation",
    "help": "help answer",
}

#: ``inbound.kinds.InboundKind``
INBOUND_KINDS: Mapping[str, str] = {
    "reply": "reply",
    "stop": "opted out",
    "start": "opted back in",
    "help": "asked for help",
}


def _plain(table: Mapping[str, str], value: str | None) -> str:
    if not value:
        return ""
    return table.get(value) or value.replace("_", " ")


def outcome_label(value: str | None) -> str:
    """``missed_no_voicemail`` → ``Missed, no voicemail``."""
    return _plain(OUTCOMES, value)


def reason_label(value: str | None) -> str:
    """``caller_hangup`` → ``the caller hung up while it rang``."""
    return _plain(REASONS, value)


def decision_label(action: str | None, reason: str | None = None) -> str:
    """``("suppress", "cooldown")`` → ``Not texted: texted recently``."""
    head = _plain(DECISIONS, action)
    why = _plain(DECISIONS, reason)
    return f"{head}: {why}" if head and why else head or why


def status_label(value: str | None) -> str:
    """``expired`` → ``too late, not sent``."""
    return _plain(MESSAGE_STATUSES, value)


def inbound_label(value: str | None) -> str:
    """``stop`` → ``opted out``."""
    return _plain(INBOUND_KINDS, value)


def message_kind_label(value: str | None) -> str:
    """``staff_reply`` → ``staff reply``: what kind of text we sent."""
    return _plain(MESSAGE_KINDS, value)
