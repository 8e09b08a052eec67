"""The 10DLC campaign registration packet, filled from the config and the real templates.

Since February 2025 US carriers block unregistered 10DLC traffic; a campaign is registered
with The Campaign Registry (TCR) through the SMS provider (Twilio, Telnyx, Bandwidth: their
forms ask the same things). What the forms ask, and what this module fills in:

- brand and use case: the business's name; ``CUSTOMER_CARE`` ("Customer Care"), the use
  case of support and service messages, which a text about the caller's own missed call is;
- campaign description and message flow (how a number comes to be texted: it called the
  business, the call was missed, one text follows), with the spoken disclosure recommended
  for a voice opt-in (carriers ask for the full script of a verbal call to action);
- 2–5 sample messages: every template and variant rendered by the send path itself
  (:func:`~asterisk_textback.templates.compose.render_for_call`, as ``templates preview``
  does), so each sample is byte for byte the text that call would get;
- the opt-in, opt-out and help keywords (those ``inbound.consent`` honours: CTIA Messaging
  Principles and Best Practices §5 — STOP, END, CANCEL, UNSUBSCRIBE, QUIT — and the FCC's
  revocation rule, 47 CFR 64.1200(a)(10)) and the answers ``[consent]`` sends to them;
- whether messages carry links or phone numbers, found in the rendered texts;
- the expected volume (``compliance.kit_volume``).

Pure: no database, no network; :mod:`.kit_render` writes it as Markdown or JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import phonenumbers

from asterisk_textback.calls.model import CallEnded
from asterisk_textback.compliance.kit_volume import Volume
from asterisk_textback.config import Settings

# The keyword sets the inbox really honours (private there: this is their one reader).
from asterisk_textback.inbound.consent import _HELP_WORDS, _OPT_IN_WORDS, _OPT_OUT_WORDS
from asterisk_textback.policy.numbers import parse_caller
from asterisk_textback.templates.compose import SAMPLE_NUMBER, sample_call
from asterisk_textback.templates.preview import first_texts
from asterisk_textback.templates.render import Renderer

__all__ = [
    "DISCLOSURE",
    "USE_CASE",
    "Answers",
    "Kit",
    "Sample",
    "build_kit",
    "find_links",
    "find_phones",
]

#: TCR's use case for support and service messages ("Customer Care" in the forms).
USE_CASE: Final = "CUSTOMER_CARE"
USE_CASE_LABEL: Final = "Customer Care"
#: What the greeting says before the phones ring, so the caller knows a text may follow.
DISCLOSURE: Final = "We may text you about this call. Reply STOP to opt out."
#: The CTIA's five universal opt-out words first, in its order; then the rest.
_FIRST: Final = ("stop", "end", "cancel", "unsubscribe", "quit", "start", "help")
_LINK = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)


def _ordered(words: frozenset[str]) -> tuple[str, ...]:
    first = [w for w in _FIRST if w in words]
    return tuple(w.upper() for w in [*first, *sorted(words - set(first))])


def find_links(text: str) -> tuple[str, ...]:
    """The web links in ``text`` (``https://…``, ``www.…``), in order."""
    return tuple(m.group(0).rstrip(".,;:!?)") for m in _LINK.finditer(text))


def find_phones(text: str, region: str) -> tuple[str, ...]:
    """The phone numbers written in ``text`` (national ones read in ``region``), as written."""
    # POSSIBLE, not VALID: a sample contact such as (555) 555-0100 is still a phone number.
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE)
    return tuple(m.raw_string for m in matcher)


@dataclass(frozen=True, slots=True)
class Sample:
    """One template variant rendered as the first text to the sample caller."""

    template: str
    variant: str
    body: str
    encoding: str
    segments: int
    links: tuple[str, ...]
    phones: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Answers:
    """The automatic answers to keywords; None where this service sends none."""

    help: str
    opt_out: str | None
    opt_in: str | None


@dataclass(frozen=True, slots=True)
class Kit:
    """Everything a 10DLC campaign form asks, filled in."""

    brand: str
    use_case: str
    use_case_label: str
    description: str
    message_flow: str
    disclosure: str
    senders: tuple[str, ...]
    samples: tuple[Sample, ...]
    opt_in_keywords: tuple[str, ...]
    opt_out_keywords: tuple[str, ...]
    help_keywords: tuple[str, ...]
    answers: Answers
    #: Links / phone numbers found in the samples (the forms' two check boxes).
    embedded_links: bool
    embedded_phones: bool
    #: A phone number in the keyword answers (HELP's contact), said apart.
    phones_in_answers: bool
    volume: Volume
    footer: str | None
    cooldown_hours: float


def render_samples(
    settings: Settings, renderer: Renderer, call: CallEnded, *, tracking_secret: str = ""
) -> tuple[Sample, ...]:
    """Every variant of every template, rendered for ``call`` as its first text.

    The same function as sending and ``templates preview``: the booking link carries the
    call's tracking token, the opt-out footer is on, the encoding is the final one.
    """
    region = settings.business.default_region
    # As the policy hands it to the send path: the caller's number in E.164.
    to = parse_caller(call.caller_number, region).e164 or SAMPLE_NUMBER
    return tuple(
        Sample(
            template=name,
            variant=variant,
            body=text.body,
            encoding=text.encoding,
            segments=text.segments,
            links=find_links(text.body),
            phones=find_phones(text.body, region),
        )
        for name, variant, text in first_texts(
            settings, renderer, call, to=to, tracking_secret=tracking_secret
        )
    )


def _senders(settings: Settings) -> tuple[str, ...]:
    provider = settings.provider
    found = [provider.default_sender, *provider.senders.values()]
    return tuple(dict.fromkeys(s for s in found if s))


def _description(brand: str, link: bool, cooldown: float) -> str:
    book = " or book a visit through the booking link" if link else ""
    return (
        f"{brand} texts back people whose phone call to {brand} was not answered (nobody "
        "free, the line busy, or after hours). Each missed call gets at most one "
        f"informational text about that call, inviting the caller to reply{book}; "
        f"{brand}'s staff read and answer the replies. No marketing or promotions are sent"
        + (f", and a number is texted at most once every {cooldown:g} hours." if cooldown else ".")
    )


def _flow(brand: str, senders: tuple[str, ...], footer: str | None, region: str) -> str:
    numbers = ", ".join(_national(s, region) for s in senders) or "its business number"
    end = "" if footer is None or footer.endswith((".", "!", "?")) else "."
    stop = f" The first text ends with the line: {footer}{end}" if footer else ""
    return (
        f"Consent is given by the caller's own phone call: a customer calls {brand} "
        f"({numbers}) and the call is missed. Only the number that called is texted, once, "
        "shortly after the call and about that call only (never at night: a text due in quiet "
        "hours waits for the morning). The greeting tells callers before the phones "
        f'ring: "{DISCLOSURE}" (a verbal call to action; the full script is this one '
        f"sentence).{stop} Replying STOP (or END, CANCEL, UNSUBSCRIBE, QUIT) opts out at "
        "once; HELP gives contact details. Numbers are never bought, shared or texted for "
        "any other purpose."
    )


def _national(e164: str, region: str) -> str:
    try:
        number = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def build_kit(
    settings: Settings,
    renderer: Renderer,
    volume: Volume,
    *,
    call: CallEnded | None = None,
    tracking_secret: str = "",
) -> Kit:
    """The kit for ``settings``; the samples are rendered for ``call`` (default: the sample)."""
    business, consent, templates = settings.business, settings.consent, settings.templates
    brand = business.name
    samples = render_samples(
        settings, renderer, call or sample_call(), tracking_secret=tracking_secret
    )
    answers = Answers(
        help=consent.render(consent.help_text, brand),
        opt_out=consent.render(consent.opt_out_text, brand) if consent.confirm_opt_out else None,
        opt_in=consent.render(consent.opt_in_text, brand) if consent.confirm_opt_in else None,
    )
    answer_texts = [a for a in (answers.help, answers.opt_out, answers.opt_in) if a]
    region = business.default_region
    footer = None if templates.provider_adds_footer else templates.footer
    senders = _senders(settings)
    return Kit(
        brand=brand,
        use_case=USE_CASE,
        use_case_label=USE_CASE_LABEL,
        description=_description(
            brand, bool(business.booking_link), settings.suppression.cooldown_hours
        ),
        message_flow=_flow(brand, senders, footer, region),
        disclosure=DISCLOSURE,
        senders=senders,
        samples=samples,
        opt_in_keywords=_ordered(_OPT_IN_WORDS),
        opt_out_keywords=_ordered(_OPT_OUT_WORDS),
        help_keywords=_ordered(_HELP_WORDS),
        answers=answers,
        embedded_links=any(s.links for s in samples),
        embedded_phones=any(s.phones for s in samples),
        phones_in_answers=any(find_phones(t, region) for t in answer_texts),
        volume=volume,
        footer=footer,
        cooldown_hours=settings.suppression.cooldown_hours,
    )
