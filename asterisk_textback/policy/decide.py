"""``decide``: one finished call, the caller's history and ``now`` in; one Decision out.

Checks run from the cheapest and most certain to the most situational, so the recorded
reason is the most fundamental one: a call that was answered is ``answered`` even if its
caller also opted out long ago.

1. the call: direction, outcome, age, misdial, IVR-only;
2. the number: anonymous, short code, invalid, country, number type; its caller ID
   verification (STIR/SHAKEN, ``check_verification``);
3. the rules: routing by DID, queue, outcome, reason and business hours;
4. the caller's history: opt-out, landline, handled since, cooldown, daily cap;
5. SMS-pumping defence: global and per-prefix rates;
6. timing: send delay, the recipient's texting window (quiet hours by their place), expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from asterisk_textback.calls.model import (
    CallEnded,
    CallerVerification,
    Direction,
    Outcome,
    Reason,
)
from asterisk_textback.policy.decision import Action, Decision, SuppressReason
from asterisk_textback.policy.history import ContactHistory
from asterisk_textback.policy.hours import routing_at
from asterisk_textback.policy.numbers import (
    CallerNumber,
    LineType,
    NumberKind,
    country_allowed,
    parse_caller,
)
from asterisk_textback.policy.quiet import next_window, rules_for
from asterisk_textback.policy.recipient_place import place_of
from asterisk_textback.policy.rules import match_rule
from asterisk_textback.policy.settings import PolicyConfig, allowed_countries

_NUMBER_KINDS: Final = {
    NumberKind.ANONYMOUS: SuppressReason.ANONYMOUS,
    NumberKind.SHORT_CODE: SuppressReason.SHORT_CODE,
    NumberKind.INVALID: SuppressReason.INVALID_NUMBER,
}
_LINE_TYPES: Final = {
    LineType.TOLL_FREE: SuppressReason.TOLL_FREE,
    LineType.PREMIUM_RATE: SuppressReason.PREMIUM,
    LineType.SHARED_COST: SuppressReason.SHARED_COST,
    LineType.UAN: SuppressReason.UAN,
    LineType.VOIP: SuppressReason.VOIP,
    LineType.PERSONAL_NUMBER: SuppressReason.PERSONAL_NUMBER,
    LineType.PAGER: SuppressReason.PAGER,
    LineType.VOICEMAIL: SuppressReason.VOICEMAIL_NUMBER,
    LineType.FIXED_LINE: SuppressReason.FIXED_LINE,
}
# Calls this short that ended like this are somebody dialling the wrong number.
_MISDIAL_REASONS: Final = frozenset({Reason.CALLER_HANGUP, Reason.IVR_ONLY})


@dataclass(frozen=True, slots=True)
class _Suppressed:
    reason: SuppressReason
    detail: str


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def _check_call(call: CallEnded, config: PolicyConfig, now: float) -> _Suppressed | None:
    supp = config.suppression
    if call.direction is Direction.INTERNAL:
        return _Suppressed(SuppressReason.INTERNAL, "internal call")
    if call.direction is Direction.OUTBOUND:
        return _Suppressed(SuppressReason.OUTBOUND, "outbound call")
    if call.outcome is Outcome.ANSWERED:
        return _Suppressed(SuppressReason.ANSWERED, f"answered by {call.answered_by or 'staff'}")
    if call.outcome is Outcome.UNKNOWN:
        return _Suppressed(SuppressReason.UNKNOWN_OUTCOME, f"outcome unknown ({call.reason})")
    if call.excluded:
        return _Suppressed(SuppressReason.EXCLUDED_BY_DIALPLAN, "TEXTBACK=no on this route")
    age = now - call.ended_at
    if age > supp.max_age_minutes * 60:
        return _Suppressed(
            SuppressReason.EXPIRED,
            f"call ended {age / 60:.0f} min ago (max_age_minutes {supp.max_age_minutes:g})",
        )
    duration = call.ended_at - call.started_at
    if call.reason in _MISDIAL_REASONS and duration < supp.misdial_min_seconds:
        return _Suppressed(
            SuppressReason.MISDIAL,
            f"{call.reason} after {duration:.1f} s (misdial_min_seconds "
            f"{supp.misdial_min_seconds:g})",
        )
    if call.reason is Reason.IVR_ONLY and not supp.text_ivr_only:
        return _Suppressed(SuppressReason.IVR_EXCLUDED, "text_ivr_only = false")
    return None


def _check_number(number: CallerNumber, config: PolicyConfig) -> _Suppressed | None:
    if number.kind is not NumberKind.VALID:
        return _Suppressed(_NUMBER_KINDS[number.kind], f"caller ID {number.raw!r}")
    allowed = allowed_countries(config)
    if not country_allowed(number, allowed):
        return _Suppressed(
            SuppressReason.COUNTRY_NOT_ALLOWED,
            f"{number.region} (+{number.country_code}) not in {', '.join(allowed)}",
        )
    if number.line_type in config.suppression.block_number_types:
        return _Suppressed(_LINE_TYPES[number.line_type], f"{number.line_type} number")
    return None


def check_verification(call: CallEnded, config: PolicyConfig) -> tuple[SuppressReason, str] | None:
    """Refuse a text to a caller ID that failed verification (``not_failed``, the default) or
    was not verified (``passed``); None when the text may go.

    A spoofed caller ID makes the text go to a number that never called: an unsolicited text
    to a stranger, which 47 CFR 64.1200 and the CTIA Messaging Principles and Best Practices
    (messages only with the recipient's consent) forbid. STIR/SHAKEN verification (47 CFR
    64.6300-64.6308, ATIS-1000074) is the network's word on the caller ID; its result comes
    from the dialplan hook (``calls/verification.py``). Calls without the hook's report
    count as not verified.
    """
    mode = config.suppression.caller_verification
    result = call.caller_verification
    if mode == "off" or result is CallerVerification.PASSED:
        return None
    if result is CallerVerification.FAILED:
        return SuppressReason.CALLER_NOT_VERIFIED, "caller ID failed verification (STIR/SHAKEN)"
    if mode == "passed":
        said = "not reported" if result is None else "not verified"
        return (
            SuppressReason.CALLER_NOT_VERIFIED,
            f"caller ID {said} (suppression.caller_verification = passed)",
        )
    return None


def _check_verification(call: CallEnded, config: PolicyConfig) -> _Suppressed | None:
    found = check_verification(call, config)
    return None if found is None else _Suppressed(*found)


def refuse_destination(raw: str, config: PolicyConfig) -> tuple[SuppressReason, str] | None:
    """Why no text of any kind (auto-replies, forwards) may go to ``raw``; None if it may.

    The same number checks as a text-back: invalid or unknown numbers, short codes,
    countries not allowed, blocked number types (premium, toll-free, …).
    """
    found = _check_number(parse_caller(raw, config.business.default_region), config)
    return None if found is None else (found.reason, found.detail)


def _check_history(
    call: CallEnded, history: ContactHistory, config: PolicyConfig, now: float
) -> _Suppressed | None:
    supp = config.suppression
    if history.opted_out:
        return _Suppressed(SuppressReason.OPTED_OUT, "caller opted out")
    if history.sms_capable is False:
        return _Suppressed(SuppressReason.LANDLINE, "number known not to receive texts")
    # Any conversation after this call began means somebody already talked to the caller.
    if history.last_handled_at is not None and history.last_handled_at >= call.started_at:
        return _Suppressed(SuppressReason.ALREADY_HANDLED, "answered or called back since")
    if history.last_texted_at is not None:
        since = now - history.last_texted_at
        if since < supp.cooldown_hours * 3600:
            return _Suppressed(
                SuppressReason.COOLDOWN,
                f"texted {_hours(since)} ago (cooldown_hours {supp.cooldown_hours:g})",
            )
    if history.texts_last_24h >= supp.daily_cap:
        return _Suppressed(
            SuppressReason.DAILY_CAP,
            f"{history.texts_last_24h} texts in 24 h (daily_cap {supp.daily_cap})",
        )
    rates = history.rates
    if supp.global_rate_per_minute and rates.global_last_minute >= supp.global_rate_per_minute:
        return _Suppressed(
            SuppressReason.RATE_LIMITED_GLOBAL,
            f"{rates.global_last_minute} texts in the last minute "
            f"(global_rate_per_minute {supp.global_rate_per_minute})",
        )
    per_prefix = supp.per_prefix_rate_per_minute
    if per_prefix and rates.prefix_last_minute >= per_prefix:
        return _Suppressed(
            SuppressReason.RATE_LIMITED_PREFIX,
            f"{rates.prefix_last_minute} texts to this prefix in the last minute "
            f"(per_prefix_rate_per_minute {per_prefix})",
        )
    return None


def recipient_zones(number: CallerNumber, business_zone: ZoneInfo) -> tuple[ZoneInfo, ...]:
    """The caller's possible time zones, the business's first if it is one of them."""
    zones: list[ZoneInfo] = []
    for name in number.timezones:
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            # phonenumbers' zone data can be newer or older than the system's tzdata.
            continue
    if not zones:
        # No idea where the number is: the business's own zone is the best guess.
        return (business_zone,)
    if business_zone in zones:
        zones.remove(business_zone)
        zones.insert(0, business_zone)
    return tuple(zones)


def window_opens(to: str, at: float, config: PolicyConfig) -> float | None:
    """The first moment at or after epoch ``at`` a text to ``to`` may go out (quiet hours).

    For whatever moves a decided text later (a rate-cap hold, a retry's backoff): the
    moment it lands on must be inside the recipient's window too. ``at`` when quiet hours
    are off or the number does not parse; None when no window opens within 8 days.
    """
    quiet = config.suppression.quiet_hours
    number = parse_caller(to, config.business.default_region)
    if quiet is None or not number.valid:
        return at
    rules = rules_for(quiet, place_of(number.e164))
    return next_window(rules, recipient_zones(number, config.business.zone), at).send_at


def decide(call: CallEnded, history: ContactHistory, config: PolicyConfig, now: float) -> Decision:
    """Decide whether, what and when to text the caller of ``call``, as of epoch ``now``."""
    business, supp = config.business, config.suppression
    # The text goes out when the call ends, so "we're closed right now" must be true then.
    routing = routing_at(business, call.ended_at)
    number = parse_caller(call.caller_number, business.default_region)
    prefix = number.rate_prefix(supp.rate_prefix_digits)

    def suppressed(
        found: _Suppressed, rule: int | None = None, name: str | None = None
    ) -> Decision:
        return Decision(
            action=Action.SUPPRESS,
            routing=routing,
            reason=found.reason,
            detail=found.detail,
            to=number.e164,
            rate_prefix=prefix,
            rule=rule,
            rule_name=name,
        )

    found = (
        _check_call(call, config, now)
        or _check_number(number, config)
        or _check_verification(call, config)
    )
    if found is not None:
        return suppressed(found)
    match = match_rule(config.rules, call, routing)
    if match is None:
        return suppressed(_Suppressed(SuppressReason.NO_RULE_MATCHED, f"{routing} call"))
    rule, name = match.rule, match.rule.label_or(match.index)
    if rule.action == "suppress":
        found = _Suppressed(SuppressReason.RULE_SUPPRESSED, rule.label or name)
        return suppressed(found, match.index, name)
    found = _check_history(call, history, config, now)
    if found is not None:
        return suppressed(found, match.index, name)

    delay = supp.send_delay_seconds if rule.send_delay_seconds is None else rule.send_delay_seconds
    due = max(now, call.ended_at + delay)
    send_at, detail, applied = due, "", None
    if supp.quiet_hours is not None:
        rules = rules_for(supp.quiet_hours, place_of(number.e164))
        verdict = next_window(rules, recipient_zones(number, business.zone), due)
        if verdict.send_at is None:
            found = _Suppressed(SuppressReason.QUIET_HOURS, verdict.detail)
            return suppressed(found, match.index, name)
        send_at, detail, applied = verdict.send_at, verdict.detail, verdict.applied
    return Decision(
        action=Action.SEND,
        routing=routing,
        to=number.e164,
        rate_prefix=prefix,
        rule=match.index,
        rule_name=name,
        template=rule.template,
        experiment=rule.experiment,
        send_at=send_at,
        # Counted from the (deferred) send time: a text held for the window's opening
        # still has all of max_age once it opens.
        expires_at=send_at + supp.max_age_minutes * 60,
        deferred=send_at > due,
        detail=detail,
        quiet_rule=applied,
    )
