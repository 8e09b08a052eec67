"""Routing rules: the first ``[[rules]]`` entry that matches a call picks its text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from asterisk_textback.calls.model import CallEnded
from asterisk_textback.policy.hours import Routing, when_matches
from asterisk_textback.policy.settings import RuleSettings


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """The rule that matched a call and its position in ``rules``."""

    index: int
    rule: RuleSettings


def _any_glob(value: str | None, globs: Sequence[str]) -> bool:
    if not globs:
        return True
    # fnmatchcase: DIDs and queue names are matched exactly as the PBX reports them.
    return value is not None and any(fnmatchcase(value, g) for g in globs)


def rule_matches(rule: RuleSettings, call: CallEnded, routing: Routing) -> bool:
    """True when every condition of ``rule`` holds for ``call`` at ``routing``."""
    return (
        _any_glob(call.did, rule.did)
        and _any_glob(call.queue, rule.queue)
        and (not rule.outcome or call.outcome.value in rule.outcome)
        and (not rule.reason or call.reason in rule.reason)
        and any(when_matches(w, routing) for w in rule.when)
    )


def match_rule(
    rules: Sequence[RuleSettings], call: CallEnded, routing: Routing
) -> RuleMatch | None:
    """The first rule matching ``call``, or None."""
    for index, rule in enumerate(rules):
        if rule_matches(rule, call, routing):
            return RuleMatch(index, rule)
    return None
