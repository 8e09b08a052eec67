"""The policy: whether, what and when to text a caller (pure; ``now`` is passed in)."""

from asterisk_textback.policy.decide import (
    decide,
    recipient_zones,
    refuse_destination,
    window_opens,
)
from asterisk_textback.policy.decision import Action, Decision, SuppressReason
from asterisk_textback.policy.history import NO_HISTORY, ContactHistory, RateSnapshot
from asterisk_textback.policy.hours import (
    Routing,
    defer_for_quiet_hours,
    is_open,
    quiet_end,
    routing_at,
    when_matches,
)
from asterisk_textback.policy.numbers import (
    ANONYMOUS_IDS,
    CallerNumber,
    LineType,
    NumberKind,
    country_allowed,
    parse_caller,
)
from asterisk_textback.policy.quiet import Verdict, next_window, rules_for
from asterisk_textback.policy.quiet_rules import QuietRule
from asterisk_textback.policy.quiet_settings import QuietHours
from asterisk_textback.policy.recipient_place import Place, place_of
from asterisk_textback.policy.rules import RuleMatch, match_rule, rule_matches
from asterisk_textback.policy.settings import (
    DEFAULT_BLOCKED_TYPES,
    DEFAULT_RULES,
    BusinessSettings,
    PolicyConfig,
    PolicySettings,
    RuleSettings,
    SuppressionSettings,
    WeeklyHours,
    When,
    allowed_countries,
    check_rules,
    check_templates,
)
from asterisk_textback.policy.timerange import TimeRange, parse_range

__all__ = [
    "ANONYMOUS_IDS",
    "DEFAULT_BLOCKED_TYPES",
    "DEFAULT_RULES",
    "NO_HISTORY",
    "Action",
    "BusinessSettings",
    "CallerNumber",
    "ContactHistory",
    "Decision",
    "LineType",
    "NumberKind",
    "Place",
    "PolicyConfig",
    "PolicySettings",
    "QuietHours",
    "QuietRule",
    "RateSnapshot",
    "Routing",
    "RuleMatch",
    "RuleSettings",
    "SuppressReason",
    "SuppressionSettings",
    "TimeRange",
    "Verdict",
    "WeeklyHours",
    "When",
    "allowed_countries",
    "check_rules",
    "check_templates",
    "country_allowed",
    "decide",
    "defer_for_quiet_hours",
    "is_open",
    "match_rule",
    "next_window",
    "parse_caller",
    "parse_range",
    "place_of",
    "quiet_end",
    "recipient_zones",
    "refuse_destination",
    "routing_at",
    "rule_matches",
    "rules_for",
    "when_matches",
    "window_opens",
]
