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
import string
import unicodedata
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from asterisk_textback.inbound.kinds import InboundKind

__all__ = [
    "Classification",
    "ConsentSettings",
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


_PLACEHOLDERS = frozenset({"business", "contact"})


class ConsentSettings(BaseModel):
    """The ``[consent]`` section: the texts that answer STOP, START and HELP."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: How customers reach a person (phone number, web page); ``{contact}`` in the texts.
    contact: str = ""
    help_text: str = "{business}: reply here or call us {contact}. Reply STOP to opt out."
    #: Turn off when the provider already confirms opt-outs itself (e.g. Twilio's default
    #: Advanced Opt-Out), so the caller does not get two confirmations.
    confirm_opt_out: bool = True
    opt_out_text: str = (
        "{business}: you are unsubscribed and will get no more texts. Reply START to resubscribe."
    )
    confirm_opt_in: bool = True
    opt_in_text: str = "{business}: you are subscribed again. Reply STOP to opt out, HELP for help."
    #: Auto-replies (HELP/INFO answers, STOP/START confirmations, replies forwarded to staff
    #: by SMS) queued per minute in total; 0 = no cap. Their own budget: they never count
    #: against the text-back caps of ``[suppression]``.
    auto_reply_rate_per_minute: int = Field(default=20, ge=0)
    #: HELP answers and confirmations per number in any 24 h (HELP is answered once a day).
    auto_reply_daily_cap: int = Field(default=3, ge=1, le=100)

    @field_validator("help_text", "opt_out_text", "opt_in_text")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as exc:
            raise ValueError(f"not a valid text template: {exc}") from None
        unknown = fields - _PLACEHOLDERS
        if unknown:
            names = ", ".join(sorted(unknown))
            raise ValueError(f"unknown placeholder(s) {names}; use {{business}} and {{contact}}")
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    def render(self, template: str, business: str) -> str:
        """Fill ``{business}`` and ``{contact}`` into one of the texts above."""
        text = template.format(business=business, contact=self.contact)
        return " ".join(text.split())
