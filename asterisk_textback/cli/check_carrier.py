"""``check``'s lines about the words sent: the HELP/STOP answers and the first texts.

``carrier rules``: one FAIL per element the HELP answer lacks, and per marketing element or
missing statement of the STOP confirmation (CTIA Messaging Principles and Best Practices;
47 CFR 64.1200(a)(12); see ``compliance.carrier_rules``), each with the compliant wording,
built from the config, in its fix. ``first texts``: one WARN per template variant a rule
can send as a number's first text that carries promotional wording (47 CFR 64.1200(a)(2);
see ``compliance.first_text``).
"""

from __future__ import annotations

import json

from asterisk_textback.cli.check_report import CheckResult
from asterisk_textback.compliance.carrier_rules import CarrierMiss, review
from asterisk_textback.compliance.first_text import first_text_templates, lint_first_texts
from asterisk_textback.config import Settings
from asterisk_textback.policy.settings import BusinessSettings

__all__ = ["carrier_lines", "first_text_lines"]

CARRIER = "carrier rules"
FIRST_TEXTS = "first texts"


def _fix(miss: CarrierMiss, first: bool, config: str) -> str:
    """The compliant wording in full under a setting's first miss; a pointer to it after."""
    if not first:
        return f"the {miss.key} offered above has it"
    return (
        f"set {miss.key} = {json.dumps(miss.offer, ensure_ascii=False)} in {config} "
        f"(it sends: {miss.offer_sent})"
    )


def carrier_lines(settings: Settings, config: str = "textback.toml") -> list[CheckResult]:
    """The HELP answer and STOP confirmation against the carriers' rules: PASS, or a line
    per miss (FAIL, or WARN with ``consent.carrier_rules = "warn"``)."""
    mode = settings.consent.carrier_rules
    if mode == "off":
        why = 'not checked (consent.carrier_rules = "off")'
        return [CheckResult(CARRIER, True, why)]
    misses = review(settings)
    unnamed = _unnamed_brand(settings)
    if unnamed is not None and not misses:
        return [unnamed]
    if not misses:
        stop = (
            "the STOP confirmation has no marketing"
            if settings.consent.confirm_opt_out
            else "no STOP confirmation sent by us (consent.confirm_opt_out = false)"
        )
        detail = (
            "the HELP answer has the brand, a contact, the frequency, "
            f"'Msg & data rates may apply' and how to stop; {stop}"
        )
        return [CheckResult(CARRIER, True, detail)]
    lines = []
    seen: set[str] = set()
    for miss in misses:
        detail = miss.message
        if miss.key not in seen:
            detail += f"\nit sends: {miss.sent}"
        fix = _fix(miss, miss.key not in seen, config)
        seen.add(miss.key)
        warn = mode == "warn"
        lines.append(CheckResult(CARRIER, warn, detail, fix, warn=warn))
    return lines if unnamed is None else [*lines, unnamed]


def _unnamed_brand(settings: Settings) -> CheckResult | None:
    """A WARN when ``business.name`` is the placeholder: the answers name no real brand."""
    default = BusinessSettings.model_fields["name"].default
    if settings.business.name != default:
        return None
    detail = f"business.name is not set: the HELP and STOP answers say {default!r}"
    fix = "set business.name to the brand you registered with your provider (10DLC)"
    return CheckResult(CARRIER, True, detail, fix, warn=True)


def first_text_lines(settings: Settings) -> list[CheckResult]:
    """A WARN per first-text template variant with promotional words, else one PASS."""
    findings = lint_first_texts(settings)
    if not findings:
        count = len(first_text_templates(settings))
        detail = f"no promotional wording in the {count} template(s) a rule can send first"
        return [CheckResult(FIRST_TEXTS, True, detail)]
    fix = (
        "keep a first text about the call (what happened, how to reach you); "
        "send offers only to numbers that gave express written consent"
    )
    return [CheckResult(FIRST_TEXTS, True, f.message(), fix, warn=True) for f in findings]
