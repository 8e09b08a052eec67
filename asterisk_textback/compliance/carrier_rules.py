"""The HELP answer and the STOP confirmation carriers accept, checked element by element.

Sources (the wording checked here follows them; each element's test breaks it on purpose):

- CTIA Messaging Principles and Best Practices (May 2023), §5.1.3: honour STOP, END, CANCEL,
  UNSUBSCRIBE and QUIT, with one confirmation; HELP must be answered. The CTIA Short Code
  Monitoring Handbook (v1.8, 2021), whose HELP rule the 10DLC campaign forms of Twilio,
  Telnyx and Bandwidth ask for too, says what the answer holds: the brand (program name),
  a help contact (phone number, email or web address), the message frequency,
  "Msg & data rates may apply", and how to opt out (:data:`HELP_ELEMENTS`).
- 47 CFR 64.1200(a)(12) (FCC 24-24, in force since 4 April 2024): one text may confirm an
  opt-out if it "merely confirms" it, "does not include any marketing or promotional
  information", and is the only message sent after it; sent within five minutes it is
  presumed reasonable (:data:`OPT_OUT_CONFIRM_WINDOW`). The FCC's SoundBite ruling (FCC
  12-143, 2012) allows contact details and how to opt back in. Checked here: no link, no
  promotional words (:mod:`.first_text`), no call to action, the brand named, and that no
  more texts will be sent (:func:`stop_misses`).

Pure: texts and names in, what is missing out (:func:`help_misses`, :func:`stop_misses`),
and the compliant wording offered instead (:func:`compliant_help`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import phonenumbers

from asterisk_textback.compliance.first_text import promotional_words

if TYPE_CHECKING:
    from asterisk_textback.config import Settings

__all__ = [
    "COMPLIANT_STOP",
    "HELP_ELEMENTS",
    "OPT_OUT_CONFIRM_WINDOW",
    "CarrierMiss",
    "Element",
    "compliant_help",
    "has_brand",
    "help_misses",
    "links",
    "load_error",
    "readable_number",
    "review",
    "sample_contact",
    "stop_misses",
]

#: An opt-out confirmation is sent within this long of the STOP, or not at all
#: (47 CFR 64.1200(a)(12): presumed reasonable within five minutes).
OPT_OUT_CONFIRM_WINDOW: Final = timedelta(minutes=5)

_NUMBER = r"(?:\d{1,4}|one|two|three|four|five|six|seven|eight|nine|ten)"
_MSGS = r"(?:msgs?|messages?|texts?|txts?|sms)"
_PHONE = re.compile(r"\+?\(?\d[\d\s().\-]{5,}\d")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: A web address: with a scheme, "www.", or a bare domain ("acme.example", "acme.com/help").
_URL = re.compile(
    r"\bhttps?://\S+|\bwww\.\S+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,24}\b(?:/\S*)?"
)
_FREQUENCY = re.compile(
    rf"\b{_MSGS}\s*freq(?:uency|\.)?\s*(?:varies|may vary|vary)\b"
    r"|\bfreq(?:uency|\.)?\s*(?:varies|may vary)\b"
    rf"|\bup\s+to\s+{_NUMBER}\s*{_MSGS}\b"
    rf"|\b{_NUMBER}\s*{_MSGS}\s*(?:/|per\b|an?\b|each\b|every\b)\s*"
    r"(?:mo|month|wk|week|day|call|missed call|request|visit)\b"
    rf"|\brecurring\s+{_MSGS}"
)
_RATES = re.compile(
    r"\b(?:msg|msgs|message|messages|sms|text)\s*(?:&|\+|and|&amp;)\s*data\s*rates?\s*"
    r"(?:may|might|can|will)\s*apply\b"
)
_OPT_OUT_WORD = r"(?:stop|stopall|end|cancel|unsubscribe|quit)"
_STOP_HOW = re.compile(
    rf"\b(?:reply|text|txt|send|respond(?:\s+with)?)\s*['\"]?{_OPT_OUT_WORD}\b"
    rf"|\b{_OPT_OUT_WORD}['\"]?\s+to\s+(?:opt[\s-]?out|cancel|unsubscribe|stop|end|quit)\b"
)
_NO_MORE = re.compile(
    rf"\bno\s+(?:more|further|other)\s+{_MSGS}\b"
    r"|\b(?:will not|won't|wont|will no longer|shall not)\s+(?:receive|get|be sent|be texted"
    r"|send you|text you|message you|hear from)\b"
    r"|\b(?:will|shall)\s+(?:receive|get)\s+no\s+(?:more|further)\b"
    r"|\bno\s+longer\s+(?:receive|get|be sent|be texted)\b"
)
#: Calls to action: an opt-out confirmation must not ask for business (SoundBite, 2012).
_CALL_TO_ACTION = re.compile(
    r"\b(?:book|order|buy|shop|schedule)\s+(?:now|today|online|again)\b"
    r"|\bbook\s+(?:an?\s+|your\s+)?appointment\b"
    r"|\bcall\s+(?:us\s+)?(?:now|today)\b"
    r"|\b(?:visit\s+(?:us|our)|check\s+out|don't\s+miss|sign\s+up|come\s+back)\b"
)
_LEGAL_SUFFIX = re.compile(r"[\s,]+(?:llc|l\.l\.c\.|inc\.?|ltd\.?|co\.?|corp\.?|gmbh|plc)$")


def _plain(text: str) -> str:
    """Case-folded, look-alike characters unified, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
    return " ".join(text.replace("\u201d", '"').split())


def _brand_forms(brand: str) -> tuple[str, ...]:
    """The brand as written, and without a legal suffix ("Acme Plumbing, LLC")."""
    full = _plain(brand)
    short = _LEGAL_SUFFIX.sub("", full).strip()
    return tuple(f for f in dict.fromkeys((full, short)) if f)


def _brand_pattern(form: str) -> re.Pattern[str]:
    """``form`` as a whole word or phrase: the brand "AB" is not in "about"."""
    return re.compile(rf"(?<!\w){re.escape(form)}(?!\w)")


def has_brand(text: str, brand: str) -> bool:
    """Whether ``text`` names ``brand`` (case and spacing aside, legal suffix optional)."""
    plain = _plain(text)
    return any(_brand_pattern(form).search(plain) for form in _brand_forms(brand))


def _without_brand(plain: str, brand: str) -> str:
    """``plain`` with the brand blanked out: "Acme.com" names the brand, it is no link."""
    for form in _brand_forms(brand):
        plain = _brand_pattern(form).sub(" ", plain)
    return plain


def _has_phone(plain: str) -> bool:
    return any(sum(c.isdigit() for c in m.group(0)) >= 7 for m in _PHONE.finditer(plain))


def links(text: str, brand: str = "") -> tuple[str, ...]:
    """Web addresses in ``text`` (the brand itself excepted), as written."""
    plain = _without_brand(_plain(text), brand) if brand else _plain(text)
    plain = _EMAIL.sub(" ", plain)  # an email's domain is no link
    return tuple(m.group(0).rstrip(".,;:!?)") for m in _URL.finditer(plain))


def _has_contact(plain: str) -> bool:
    return _has_phone(plain) or bool(_EMAIL.search(plain)) or bool(_URL.search(plain))


@dataclass(frozen=True, slots=True)
class Element:
    """One thing the HELP answer must hold: how it is named when missing, how it is found."""

    missing: str
    found: Callable[[str, str], bool]


#: The HELP answer's elements, in the order they are reported (CTIA, see above).
HELP_ELEMENTS: Final[tuple[Element, ...]] = (
    Element("no brand (the business name {brand!r})", has_brand),
    Element(
        "no help contact (a phone number, email or web address)",
        lambda text, brand: _has_contact(_without_brand(_plain(text), brand)),
    ),
    Element(
        "no message frequency ('Msg frequency varies')",
        lambda text, _: bool(_FREQUENCY.search(_plain(text))),
    ),
    Element("no 'Msg & data rates may apply'", lambda text, _: bool(_RATES.search(_plain(text)))),
    Element(
        "no stop instructions ('Reply STOP to opt out')",
        lambda text, _: bool(_STOP_HOW.search(_plain(text))),
    ),
)


def help_misses(text: str, brand: str) -> list[str]:
    """What the HELP answer ``text`` lacks, each as "no …"; empty when carriers accept it."""
    return [e.missing.format(brand=brand) for e in HELP_ELEMENTS if not e.found(text, brand)]


def stop_misses(text: str, brand: str) -> list[str]:
    """What is wrong with the opt-out confirmation ``text``; empty when it is compliant.

    Marketing first (a link, promotional words, a call to action), then what it must say:
    the brand, and that no more texts will be sent.
    """
    plain = _plain(text)
    problems = []
    found = links(text, brand)
    if found:
        problems.append(f"a link ({', '.join(repr(u) for u in found)}): no marketing allowed")
    # The words of a link are the link's problem: not named twice.
    words_only = _URL.sub(" ", _EMAIL.sub(" ", _without_brand(plain, brand)))
    promo = promotional_words(words_only)
    if promo:
        words = ", ".join(repr(w) for w in promo)
        problems.append(f"promotional words {words}: no marketing allowed")
    action = _CALL_TO_ACTION.search(words_only)
    if action:
        problems.append(f"a call to action ({action.group(0)!r}): no marketing allowed")
    if not has_brand(text, brand):
        problems.append(f"no brand (the business name {brand!r})")
    if not _NO_MORE.search(plain):
        problems.append("does not say no more texts will be sent ('will get no more texts')")
    return problems


def readable_number(number: str) -> str:
    """``+12125550100`` as people write it (``+1 212-555-0100``); anything else as given."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    if not phonenumbers.is_possible_number(parsed):
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


#: The HELP answer offered as the fix: ``{contact}`` is filled by :func:`compliant_help`.
_HELP_WORDING: Final = (
    "{business}: help at {contact}. Msg frequency varies. Msg & data rates may apply. "
    "Reply STOP to opt out."
)
#: The built-in opt-out confirmation (``consent.opt_out_text``'s default).
COMPLIANT_STOP: Final = (
    "{business}: you are unsubscribed and will get no more texts. Reply START to resubscribe."
)


def compliant_help(*, website: str | None = None) -> str:
    """A HELP answer template carriers accept, with ``{business}`` and ``{contact}``.

    ``{contact}`` is ``consent.contact``, or the number the customer texted when that is
    empty; ``website`` (the booking link's host) is added as a second way to reach help.
    """
    safe = (website or "").replace("{", "{{").replace("}", "}}")
    contact = f"{{contact}} or {safe}" if safe else "{contact}"
    return _HELP_WORDING.replace("{contact}", contact)


#: Stands in for the number a customer texts when no default sender is configured.
_SAMPLE_LINE: Final = "+12125550100"


@dataclass(frozen=True, slots=True)
class CarrierMiss:
    """One thing wrong with a configured answer, and the compliant wording offered instead."""

    #: The setting to change: ``consent.help_text`` or ``consent.opt_out_text``.
    key: str
    #: ``help answer`` or ``stop confirmation``.
    label: str
    #: What is missing or wrong: ``no 'Msg & data rates may apply'``.
    problem: str
    #: The answer as configured, rendered as it is sent.
    sent: str
    #: The compliant template offered for ``key``, and what it sends.
    offer: str
    offer_sent: str

    @property
    def message(self) -> str:
        """``help answer: no 'Msg & data rates may apply'``."""
        return f"{self.label}: {self.problem}"


def sample_contact(settings: Settings) -> str:
    """What ``{contact}`` becomes: ``consent.contact``, else the number the customer texted
    (here the default sender stands in for it, or a sample number when there is none)."""
    number = settings.provider.default_sender or _SAMPLE_LINE
    return settings.consent.contact or readable_number(number)


def _website(link: str | None) -> str | None:
    host = urlsplit(link).hostname if link else None
    return host or None


def review(settings: Settings) -> list[CarrierMiss]:
    """Every miss of ``[consent]``'s HELP answer and (when we send one) STOP confirmation."""
    consent = settings.consent
    brand = settings.business.name
    contact = sample_contact(settings)

    def sent(template: str) -> str:
        return consent.render(template, brand, number=contact)

    misses = []
    offer = compliant_help(website=_website(settings.business.booking_link))
    text = sent(consent.help_text)
    for problem in help_misses(text, brand):
        misses.append(
            CarrierMiss("consent.help_text", "help answer", problem, text, offer, sent(offer))
        )
    if consent.confirm_opt_out:
        text = sent(consent.opt_out_text)
        for problem in stop_misses(text, brand):
            misses.append(
                CarrierMiss(
                    "consent.opt_out_text",
                    "stop confirmation",
                    problem,
                    text,
                    COMPLIANT_STOP,
                    sent(COMPLIANT_STOP),
                )
            )
    return misses


def load_error(misses: list[CarrierMiss]) -> str:
    """One ``key: …`` problem per setting, for the ConfigError that stops ``run``."""
    parts = []
    for key in dict.fromkeys(m.key for m in misses):
        mine = [m for m in misses if m.key == key]
        problems = ", ".join(m.problem for m in mine)
        parts.append(
            f"{key}: carriers refuse this {mine[0].label} ({problems}); use "
            f"{_toml(mine[0].offer)} (sends {_toml(mine[0].offer_sent)}), or set "
            'consent.carrier_rules = "warn" to send it anyway'
        )
    return "; ".join(parts)


def _toml(text: str) -> str:
    """``text`` as a TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)
