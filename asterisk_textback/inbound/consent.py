"""Consent: classify an inbound text as an opt-out, opt-in, help request or plain reply.

Keywords follow the CTIA handbook and the FCC's 2024 revocation rule: STOP, STOPALL,
UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT opt out; START and UNSTOP opt back in; HELP
and INFO ask for help. A keyword counts when the text is made of keywords and polite filler
only ("Stop please", " STOP!! "), so "the bus stop" or "cancel my appointment" stay replies
for staff to read. Clear free-text revocations ("please stop texting me", "remove me") opt
out too. ``YES`` is deliberately *not* an opt-in: it is the most common answer to "want us
to call you back?", and the CTIA only lists START/UNSTOP for re-subscribing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from asterisk_textback.inbound.kinds import InboundKind

__all__ = [
    "Classification",
    "classify",
    "normalise",
]

_OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
_OPT_IN_WORDS = frozenset({"start", "unstop"})
_HELP_WORDS = frozenset({"help", "info"})
#: Words that may surround a keyword without changing its meaning ("stop please", "STOP ALL").
_FILLER = frozenset(
    {"please", "pls", "plz", "now", "all", "thanks", "thank", "you", "thx", "ty", "ok", "okay"}
)
#: Two-word spellings of keywords.
_PAIRS = {("opt", "out"): "optout", ("stop", "all"): "stopall", ("un", "subscribe"): "unsubscribe"}

# Fixed-width look-behinds: a negation right before the verb turns the phrase around.
_NEGATED = "".join(
    f"(?<!\\b{n} )" for n in ("don't", "dont", "do not", "not", "never", "can't", "won't", "wont")
)
_TEXTS = r"(?:texts?|texting|txts?|txting|messages?|messaging|sms|msgs?)"
_LISTS = r"(?:list|texts?|texting|messages|contacts?|database|system)"
_AFTER_REMOVE = (
    r"(?=\s*(?:$|[.!,;]|please|pls|thanks|"
    + rf"from\s+(?:your|the|this|ur|all)\s+(?:\w+\s+)?{_LISTS}\b))"
)
_REVOCATIONS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        # "please stop texting me", "stop sending me messages"; not "don't stop texting me".
        (
            "stop texting",
            _NEGATED
            + r"\b(?:stop|quit|cease)\s+(?:sending\s+(?:me\s+)?|with\s+)?"
            + rf"(?:the\s+|these\s+|your\s+|ur\s+)?{_TEXTS}\b",
        ),
        ("stop contacting", _NEGATED + r"\bstop\s+(?:contacting|bothering|spamming)\s+me\b"),
        ("don't text me", r"\b(?:don't|dont|do not|never)\s+(?:text|message|sms|contact)\s+me\b"),
        ("no more texts", rf"\bno\s+more\s+{_TEXTS}\b"),
        # "remove me", "remove me from your list"; not "remove me from the 3pm appointment".
        ("remove me", r"\bremove\s+(?:me|my\s+(?:number|phone|cell))" + _AFTER_REMOVE),
        ("take me off", rf"\btake\s+(?:me|my\s+number)\s+off\s+(?:\w+\s+)?{_LISTS}\b"),
        (
            "unsubscribe",
            "(?<!n't want to )(?<!not want to )(?<!\\bdon't )(?<!\\bnot )"
            + r"\b(?:unsubscribe|opt\s*-?\s*me\s+out|opt\s*-?\s*out)\b",
        ),
        ("revoke consent", r"\brevoke\s+(?:my\s+)?consent\b"),
        ("leave me alone", r"\bleave\s+me\s+alone\b"),
    )
)
_TOKEN = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True, slots=True)
class Classification:
    """What an inbound text asks for, and the keyword or phrase that decided it."""

    kind: InboundKind
    keyword: str | None = None


def normalise(body: str) -> str:
    """Case-fold, unify look-alike characters and apostrophes, and collapse whitespace."""
    text = unicodedata.normalize("NFKC", body).casefold()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    return " ".join(text.split())


def _keywords(tokens: list[str]) -> list[str] | None:
    """The keywords of a text made only of keywords and filler, else None."""
    found: list[str] = []
    i = 0
    while i < len(tokens):
        pair = _PAIRS.get((tokens[i], tokens[i + 1])) if i + 1 < len(tokens) else None
        if pair is not None:
            found.append(pair)
            i += 2
            continue
        token = tokens[i]
        if token in _OPT_OUT_WORDS | _OPT_IN_WORDS | _HELP_WORDS:
            found.append(token)
        elif token not in _FILLER:
            return None
        i += 1
    return found or None


def classify(body: str) -> Classification:
    """Classify one inbound text (pure; safe on any input)."""
    text = normalise(body)
    tokens = _TOKEN.findall(text.replace("-", " "))
    keywords = _keywords([t.strip("'") for t in tokens])
    if keywords is not None:
        # An opt-out wins over anything else in the same text: never lose a revocation.
        for kind, words in (
            (InboundKind.STOP, _OPT_OUT_WORDS),
            (InboundKind.START, _OPT_IN_WORDS),
            (InboundKind.HELP, _HELP_WORDS),
        ):
            hit = next((k for k in keywords if k in words), None)
            if hit is not None:
                return Classification(kind, hit.upper())
    for name, pattern in _REVOCATIONS:
        if pattern.search(text):
            return Classification(InboundKind.STOP, name)
    return Classification(InboundKind.REPLY)
