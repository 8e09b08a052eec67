"""The HELP answer and STOP confirmation rules: each element, each variant, the defaults.

Every HELP element has a text that lacks only it, and the check must name exactly that one;
every marketing element of a STOP confirmation is named. The built-in answers and the
compliant wording offered in the fix pass their own check, for any business name.
"""

from __future__ import annotations

from typing import Any

import pytest

from asterisk_textback.compliance.carrier_rules import (
    COMPLIANT_STOP,
    compliant_help,
    help_misses,
    links,
    readable_number,
    review,
    stop_misses,
)
from asterisk_textback.config import Settings, settings_from_mapping
from asterisk_textback.errors import ConfigError
from asterisk_textback.inbound.settings import ConsentSettings
from asterisk_textback.textback.loading import prepare

BRAND = "Acme Plumbing"
FULL = (
    "Acme Plumbing: help at +1 212 555 0100. Msg frequency varies. "
    "Msg & data rates may apply. Reply STOP to opt out."
)

#: The full answer with one element taken out, and the miss that must be named.
WITHOUT_ONE = [
    (
        "brand",
        "Plumbers: help at +1 212 555 0100. Msg frequency varies. Msg & data rates may apply. "
        "Reply STOP to opt out.",
        "no brand (the business name 'Acme Plumbing')",
    ),
    (
        "contact",
        "Acme Plumbing: help is a text away. Msg frequency varies. Msg & data rates may apply. "
        "Reply STOP to opt out.",
        "no help contact (a phone number, email or web address)",
    ),
    (
        "frequency",
        "Acme Plumbing: help at +1 212 555 0100. Msg & data rates may apply. "
        "Reply STOP to opt out.",
        "no message frequency ('Msg frequency varies')",
    ),
    (
        "rates",
        "Acme Plumbing: help at +1 212 555 0100. Msg frequency varies. Reply STOP to opt out.",
        "no 'Msg & data rates may apply'",
    ),
    (
        "stop",
        "Acme Plumbing: help at +1 212 555 0100. Msg frequency varies. Msg & data rates may apply.",
        "no stop instructions ('Reply STOP to opt out')",
    ),
]


def test_the_full_answer_passes() -> None:
    assert help_misses(FULL, BRAND) == []


@pytest.mark.parametrize(
    ("element", "text", "missing"), WITHOUT_ONE, ids=[w[0] for w in WITHOUT_ONE]
)
def test_each_help_element_removed_is_named(element: str, text: str, missing: str) -> None:
    assert help_misses(text, BRAND) == [missing]


def test_an_empty_answer_misses_all_five_in_order() -> None:
    assert help_misses("Thanks!", BRAND) == [w[2] for w in WITHOUT_ONE]


@pytest.mark.parametrize(
    "rates",
    [
        "Msg & data rates may apply",
        "Message and data rates may apply",
        "Msg&data rates may apply",
        "MSG & DATA RATES MAY APPLY",
        "Std. msg & data rates may apply",
        "Message & Data Rates May Apply",
        "Msgs and data rate may apply",
    ],
)
def test_common_rates_wordings_count(rates: str) -> None:
    text = f"Acme Plumbing: help at acme.example. Msg frequency varies. {rates}. Reply STOP to end."
    assert help_misses(text, BRAND) == []


@pytest.mark.parametrize("rates", ["Rates may apply", "Data rates may apply", "Msg rates apply"])
def test_half_a_rates_notice_is_not_one(rates: str) -> None:
    text = f"Acme Plumbing: help at acme.example. Msg frequency varies. {rates}. Reply STOP to end."
    assert help_misses(text, BRAND) == ["no 'Msg & data rates may apply'"]


@pytest.mark.parametrize(
    "frequency",
    [
        "Msg frequency varies",
        "Message frequency varies",
        "Msg freq. varies",
        "Frequency may vary",
        "Up to 4 msgs/mo",
        "Up to two texts per call",
        "1 msg per missed call",
        "3 messages/week",
        "Recurring msgs",
    ],
)
def test_common_frequency_wordings_count(frequency: str) -> None:
    text = f"Acme Plumbing: help at acme.example. {frequency}. Msg&data rates may apply. Text STOP"
    assert help_misses(text, BRAND) == []


@pytest.mark.parametrize(
    "contact",
    [
        "(212) 555-0100",
        "+44 20 7946 0958",
        "help@acme.example",
        "https://acme.example/help",
        "www.acme.com",
        "acme.example",
    ],
)
def test_a_phone_number_email_or_web_address_is_a_contact(contact: str) -> None:
    text = f"Acme Plumbing: {contact}. Msg frequency varies. Msg & data rates may apply. Reply STOP"
    assert help_misses(text, BRAND) == []


@pytest.mark.parametrize("contact", ["open 24/7", "call us", "ext. 1234"])
def test_no_contact_in_words_alone(contact: str) -> None:
    text = f"Acme Plumbing: {contact}. Msg frequency varies. Msg & data rates may apply. Reply STOP"
    assert help_misses(text, BRAND) == ["no help contact (a phone number, email or web address)"]


def test_a_brand_that_looks_like_a_domain_is_no_contact() -> None:
    text = "Acme.com: Msg frequency varies. Msg & data rates may apply. Reply STOP to opt out."
    assert help_misses(text, "Acme.com") == [
        "no help contact (a phone number, email or web address)"
    ]


@pytest.mark.parametrize(
    "stop",
    [
        "Reply STOP to opt out",
        "Text END to cancel",
        "reply 'stop' to unsubscribe",
        "STOP to opt-out",
        "Txt QUIT",
    ],
)
def test_stop_instructions_wordings(stop: str) -> None:
    text = f"Acme Plumbing: acme.example. Msg frequency varies. Msg & data rates may apply. {stop}."
    assert help_misses(text, BRAND) == []


def test_a_short_brand_is_a_whole_word() -> None:
    text = "About us: +1 212 555 0100. Msg frequency varies. Msg & data rates may apply. Reply STOP"
    assert help_misses(text, "AB") == ["no brand (the business name 'AB')"]
    assert help_misses("AB: " + text, "AB") == []


def test_the_brand_ignores_case_spacing_and_a_legal_suffix() -> None:
    text = (
        "ACME  plumbing: help at acme.example. Msg frequency varies. Msg & data rates may apply. "
    )
    assert help_misses(text + "Reply STOP.", "Acme Plumbing, LLC") == []
    assert help_misses(text + "Reply STOP.", "Acme Heating") == [
        "no brand (the business name 'Acme Heating')"
    ]


# --- the STOP confirmation ---------------------------------------------------------------

CONFIRM = "Acme Plumbing: you are unsubscribed and will get no more texts. Reply START to rejoin."


def test_a_plain_confirmation_passes() -> None:
    assert stop_misses(CONFIRM, BRAND) == []


@pytest.mark.parametrize(
    "said",
    [
        "You will not receive any more messages",
        "no further texts will be sent",
        "you'll get no more msgs",
        "You won't get texts from us again",
        "you will no longer receive texts",
    ],
)
def test_ways_of_saying_no_more_texts(said: str) -> None:
    assert stop_misses(f"Acme Plumbing: {said}.", BRAND) == []


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (" See acme.example/deals", "a link ('acme.example/deals'): no marketing allowed"),
        (" https://acme.example", "a link ('https://acme.example'): no marketing allowed"),
        (" Get 20% off next time!", "promotional words '20% off': no marketing allowed"),
        (" Free estimates, just $49.", "promotional words 'free', '$49': no marketing allowed"),
        (" Book now for spring.", "a call to action ('book now'): no marketing allowed"),
        (" Use coupon SAVE10.", "promotional words 'coupon': no marketing allowed"),
    ],
)
def test_marketing_in_the_confirmation_is_named(extra: str, problem: str) -> None:
    assert stop_misses(CONFIRM + extra, BRAND) == [problem]


def test_the_confirmation_names_the_brand_and_says_no_more() -> None:
    assert stop_misses("You are unsubscribed.", BRAND) == [
        "no brand (the business name 'Acme Plumbing')",
        "does not say no more texts will be sent ('will get no more texts')",
    ]


def test_contact_details_and_opt_back_in_are_allowed() -> None:
    # FCC 12-143 (SoundBite): contact information and how to opt back in are fine.
    text = CONFIRM + " Questions? Call +1 212 555 0100 or email help@acme.example."
    assert stop_misses(text, BRAND) == []


def test_a_domain_brand_is_no_link() -> None:
    assert links("Acme.com: you will get no more texts.", "Acme.com") == ()
    assert stop_misses("Acme.com: you will get no more texts.", "Acme.com") == []


# --- from the config ---------------------------------------------------------------------


def _settings(consent: dict[str, Any] | None = None, **business: Any) -> Settings:
    return settings_from_mapping(
        {
            "business": {"name": BRAND, **business},
            "consent": consent or {},
            "provider": {"default_sender": "+12125550100"},
        }
    )


@pytest.mark.parametrize(
    "name", [BRAND, "our office", "Dr. O'Neil & Sons {Dental}", "Zahnarztpraxis Müller GmbH"]
)
@pytest.mark.parametrize("contact", ["", "(212) 555-0199", "help@acme.example"])
def test_the_built_in_answers_pass_for_any_business(name: str, contact: str) -> None:
    settings = settings_from_mapping({"business": {"name": name}, "consent": {"contact": contact}})
    assert review(settings) == []
    prepare(settings)  # and load


def test_the_default_help_is_the_compliant_wording() -> None:
    assert ConsentSettings().help_text == compliant_help()
    assert ConsentSettings().opt_out_text == COMPLIANT_STOP


def test_with_no_contact_the_number_texted_is_the_contact() -> None:
    consent = ConsentSettings()
    body = consent.render(consent.help_text, BRAND, number=readable_number("+12125550100"))
    assert body.startswith("Acme Plumbing: help at +1 212-555-0100. ")
    assert help_misses(body, BRAND) == []
    assert readable_number("12345") == "12345"  # a short code stays as it is


def test_the_offer_is_built_from_the_config_and_passes() -> None:
    settings = _settings(
        {"contact": "+1 212 555 0100", "help_text": "{business}: call {contact}."},
        booking_link="https://acme.example/book",
    )
    misses = review(settings)
    assert [m.message for m in misses] == [
        "help answer: no message frequency ('Msg frequency varies')",
        "help answer: no 'Msg & data rates may apply'",
        "help answer: no stop instructions ('Reply STOP to opt out')",
    ]
    offer = misses[0]
    assert offer.sent == "Acme Plumbing: call +1 212 555 0100."
    assert offer.offer_sent == (
        "Acme Plumbing: help at +1 212 555 0100 or acme.example. Msg frequency varies. "
        "Msg & data rates may apply. Reply STOP to opt out."
    )
    fixed = _settings({"contact": "+1 212 555 0100", "help_text": offer.offer})
    assert review(fixed) == []


def test_a_bad_custom_answer_stops_the_load_naming_what_is_missing() -> None:
    settings = _settings({"help_text": "{business}: call {contact}. Reply STOP to opt out."})
    with pytest.raises(ConfigError) as caught:
        prepare(settings)
    message = str(caught.value)
    assert message.startswith("consent.help_text: carriers refuse this help answer (")
    assert "no message frequency" in message
    assert "no 'Msg & data rates may apply'" in message
    assert "no stop instructions" not in message
    assert 'consent.carrier_rules = "warn"' in message


def test_marketing_in_the_stop_confirmation_stops_the_load() -> None:
    text = "{business}: unsubscribed, no more texts. 10% off your next visit: acme.example/x"
    with pytest.raises(
        ConfigError, match=r"^consent\.opt_out_text: .*'acme\.example/x'.*'10% off'"
    ):
        prepare(_settings({"opt_out_text": text}))


def test_warn_and_off_let_it_load() -> None:
    bad = {"help_text": "{business}: call us."}
    prepare(_settings({**bad, "carrier_rules": "warn"}))
    prepare(_settings({**bad, "carrier_rules": "off"}))
    prepare(_settings(bad), carrier_rules=False)  # check: lines of its own instead
    with pytest.raises(ConfigError):
        prepare(_settings(bad))


def test_no_confirmation_sent_none_checked() -> None:
    settings = _settings({"confirm_opt_out": False, "opt_out_text": "{business}: 20% off!"})
    assert review(settings) == []
