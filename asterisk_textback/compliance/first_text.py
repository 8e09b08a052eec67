"""First-text lint: promotional wording in a text that can be a number's first text.

A text-back goes to someone who called the business, not to someone who signed up for
offers. An informational text about the call needs only the caller's prior express consent;
a text that "includes or introduces an advertisement or constitutes telemarketing" needs the
recipient's prior express *written* consent (47 CFR 64.1200(a)(2); the term is defined in
64.1200(f)), and the CTIA Messaging Principles and Best Practices (May 2023, §5.1) expect
the consent to match the content sent. So the templates a rule (or the dialplan, through
FastAGI) can send as a first text are read for offers, discounts, "free", prices and the
like, and each one found is named, for the admin to reword (``templates preview`` and
``check`` WARN).

Pure: plain text in, words out. The templates are the admin's own, so this is a lint, not a
filter: case-insensitive, on word boundaries ("freedom", "sales", "toll-free" and "feel free"
are no hits; "deal with" is the verb, not an offer).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from asterisk_textback.config import Settings

__all__ = [
    "LEGAL_NOTE",
    "PromoFinding",
    "first_text_templates",
    "lint_first_texts",
    "literal_text",
    "promotional_words",
]

#: Said after the words found: why they matter.
LEGAL_NOTE: Final = "promotional content needs express written consent (47 CFR 64.1200(a)(2))"

_NUMBER_WORDS = r"(?:\d{1,3}|one|two|three|four|five|ten|twenty|fifty)"
#: One pattern per kind of promotional wording; what each matches is the word reported.
_PROMO: Final[tuple[re.Pattern[str], ...]] = tuple(
    re.compile(p)
    for p in (
        # "free" on its own: not "freedom", not "toll-free"/"hands-free", not "feel free".
        r"(?<![-\w])(?<!feel )free\b",
        # Prices: "$49", "$ 49.99", "€20", "£5", "49 dollars", "20 USD".
        r"[$€£]\s?\d[\d,]*(?:\.\d+)?",
        r"\b\d[\d,]*(?:\.\d+)?\s?(?:dollars|bucks|usd|eur|gbp)\b",
        # "20% off", "20 % off", "20 percent off", "half off".
        rf"\b{_NUMBER_WORDS}\s?(?:%|percent)\s?off\b",
        r"\bhalf[\s-]off\b",
        r"\bdiscount(?:s|ed)?\b",
        r"\boffers?\b",
        r"\bsale\b",
        r"\bdeals?\b(?!\s+with\b)",
        r"\blimited[\s-]time\b",
        r"\bcoupons?\b",
        r"\bpromo(?:s|tion|tions|tional)?(?:\s+code)?\b",
        r"\bsave\s+(?:up\s+to\s+)?(?:[$€£]|\d)[\d,.]*%?",
        r"\bbogo\b",
        r"\bbuy\s+one,?\s+get\s+one\b",
        r"\bclearance\b",
        r"\brebates?\b",
    )
)
#: Jinja tags, expressions and comments: not words the caller reads as written.
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
#: String literals inside Jinja code (``{{ first_name or 'there' }}``): they are sent.
_LITERAL = re.compile(r"'([^'\\]*)'|\"([^\"\\]*)\"")


@dataclass(frozen=True, slots=True)
class PromoFinding:
    """Promotional words found in one template variant (or the footer)."""

    #: ``template/variant`` or ``templates.footer``.
    where: str
    words: tuple[str, ...]

    def message(self) -> str:
        """``template x/y: promotional words in a first text: 'free', '$49': <why>``."""
        words = ", ".join(f"'{w}'" for w in self.words)
        return f"{self.where}: promotional words in a first text: {words}: {LEGAL_NOTE}"


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.replace("\u2019", "'").split())


def promotional_words(text: str) -> tuple[str, ...]:
    """The promotional words in ``text``, in order of appearance, each once, lower-cased."""
    plain = _normalise(text)
    hits: list[tuple[int, int, str]] = []
    for pattern in _PROMO:
        hits.extend((m.start(), -m.end(), m.group(0).strip()) for m in pattern.finditer(plain))
    words: list[str] = []
    covered = -1
    for _start, minus_end, word in sorted(hits):
        if -minus_end <= covered:
            continue  # inside a longer hit ("$20" of "save $20")
        covered = max(covered, -minus_end)
        words.append(word)
    return tuple(dict.fromkeys(words))


def literal_text(source: str) -> str:
    """What a Jinja template says in words: its text plus the strings in its code.

    Both branches of an ``{% if %}`` are kept: either can be sent.
    """
    strings = [a or b for tag in _JINJA.findall(source) for a, b in _LITERAL.findall(tag) if a or b]
    return " ".join([_JINJA.sub(" ", source), *strings])


def first_text_templates(settings: Settings) -> tuple[str, ...]:
    """Templates that can be the first text a number gets: every one a ``send`` rule names,
    and every template when the FastAGI service is on (the dialplan names any of them)."""
    names = settings.templates.templates
    if settings.agi.enabled:
        return tuple(names)
    picked = {r.template for r in settings.rules if r.action == "send" and r.template}
    return tuple(n for n in names if n in picked)


def _variants(settings: Settings) -> Iterable[tuple[str, str]]:
    for name in first_text_templates(settings):
        for variant in settings.templates.template(name).variants:
            yield f"template {name}/{variant.name}", literal_text(variant.body)
    if not settings.templates.provider_adds_footer:
        yield "templates.footer", settings.templates.footer


def lint_first_texts(settings: Settings) -> list[PromoFinding]:
    """One finding per first-text variant (and the footer) with promotional wording."""
    found = []
    for where, text in _variants(settings):
        words = promotional_words(text)
        if words:
            found.append(PromoFinding(where, words))
    return found
