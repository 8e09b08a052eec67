"""First-text lint: promotional words found (and not found), in templates a rule can send."""

from __future__ import annotations

from typing import Any

import pytest

from asterisk_textback.compliance.first_text import (
    first_text_templates,
    lint_first_texts,
    literal_text,
    promotional_words,
)
from asterisk_textback.config import Settings, settings_from_mapping


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Get a FREE estimate today", ("free",)),
        ("Only $49 this week, save $20!", ("$49", "save $20")),
        ("20% off all drain cleaning", ("20% off",)),
        ("Ten percent off for new customers", ("ten percent off",)),
        ("Spring SALE: great deals", ("sale", "deals")),
        ("Limited-time offer", ("limited-time", "offer")),
        ("limited time only", ("limited time",)),
        ("Use coupon SPRING or promo code X", ("coupon", "promo code")),
        ("Ask about our promotion and discounts", ("promotion", "discounts")),
        ("BOGO on filters; buy one get one", ("bogo", "buy one get one")),
        ("Clearance prices and a rebate", ("clearance", "rebate")),
        ("It costs 99 dollars", ("99 dollars",)),
        ("Free, free, FREE", ("free",)),  # each word once
        ("Visit acme.example/free-estimate", ("free",)),
    ],
)
def test_promotional_words_are_named(text: str, words: tuple[str, ...]) -> None:
    assert promotional_words(text) == words


@pytest.mark.parametrize(
    "text",
    [
        "Freedom Plumbing: sorry we missed your call",
        "Call our toll-free line or use the hands-free kit",
        "Feel free to reply to this text",
        "Our sales line is closed; we'll deal with it first thing",
        "We'll call you back ASAP - reply to this text.",
        "Your appointment is on 12/5 at 3 pm, unit 49",
        "Carefree service since 1999",
        "Ideal for salesforce users",  # no "sale" inside a word
    ],
)
def test_informational_wording_is_no_hit(text: str) -> None:
    assert promotional_words(text) == ()


def test_the_built_in_templates_are_informational() -> None:
    assert lint_first_texts(settings_from_mapping({"agi": {"enabled": True}})) == []


def test_literal_text_drops_jinja_code_but_keeps_its_strings() -> None:
    source = "Hi {{ first_name or 'there' }}{# free #}{% if x %} 10% off{% else %}.{% endif %}"
    assert promotional_words(literal_text(source)) == ("10% off",)
    assert "free" not in literal_text(source)
    assert "there" in literal_text(source)
    code = "{{ 'FREE quote' if booking_link else '' }}"
    assert promotional_words(literal_text(code)) == ("free",)


def _settings(variants: list[dict[str, Any]], **more: Any) -> Settings:
    return settings_from_mapping(
        {
            "templates": {
                "missed_no_voicemail": {"variants": variants},
                "promo_blast": {"variants": [{"name": "a", "body": "50% off everything!"}]},
            },
            **more,
        }
    )


VARIANTS = [
    {"name": "a", "body": "Sorry we missed you at {{ business_name }}."},
    {"name": "b", "body": "Missed you! Free estimate, only $49 - {{ business_name }}"},
]


def test_only_templates_a_rule_can_send_are_first_texts() -> None:
    settings = _settings(VARIANTS)
    names = first_text_templates(settings)
    assert "missed_no_voicemail" in names
    assert "promo_blast" not in names  # no rule names it
    [finding] = lint_first_texts(settings)
    assert finding.message() == (
        "template missed_no_voicemail/b: promotional words in a first text: 'free', '$49': "
        "promotional content needs express written consent (47 CFR 64.1200(a)(2))"
    )


def test_a_rule_naming_it_or_agi_makes_any_template_a_first_text() -> None:
    ruled = _settings(VARIANTS, rules=[{"template": "promo_blast"}])
    assert [f.where for f in lint_first_texts(ruled)] == ["template promo_blast/a"]
    agi = _settings(VARIANTS, agi={"enabled": True})
    assert [f.where for f in lint_first_texts(agi)] == [
        "template missed_no_voicemail/b",
        "template promo_blast/a",
    ]
    suppressed = _settings(VARIANTS, rules=[{"action": "suppress"}])
    assert lint_first_texts(suppressed) == []


def test_the_footer_is_part_of_the_first_text() -> None:
    settings = settings_from_mapping(
        {"templates": {"footer": "Reply STOP to opt out. Coupons: acme.example"}}
    )
    assert [f.where for f in lint_first_texts(settings)] == ["templates.footer"]
    own = settings_from_mapping(
        {"templates": {"footer": "Coupons inside", "provider_adds_footer": True}}
    )
    assert lint_first_texts(own) == []  # the provider's footer, not ours
