"""The registration kit as Markdown (sections in the campaign forms' order) or JSON.

The Markdown's headings follow the Twilio, Telnyx and Bandwidth campaign forms (use case,
description, message flow, samples, opt-in / opt-out / help, message contents, volume);
README's "Registering for 10DLC" says which form field each one goes into. The JSON has the
same content under stable keys, for scripts that fill the forms through the providers' APIs.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from asterisk_textback.compliance.kit import Kit, Sample

__all__ = ["DISCLOSURE_WHERE", "kit_json", "kit_markdown"]

DISCLOSURE_WHERE: Final = (
    "in the inbound route, before the phones ring: the optional disclosure prompt step of "
    "dialplan/ (see dialplan/README.md) plays it and marks the call, so the call's record "
    "shows the disclosure played (`consent export` lists it)"
)
_NO_CONFIRM: Final = (
    "not sent by this service ({key} = false): paste the confirmation your provider sends"
)


def _fence(body: str) -> str:
    """``body`` in a code block whose fence no run of backticks in it can close."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


def _answer(text: str | None, key: str) -> str:
    return f"`{text}`" if text is not None else _NO_CONFIRM.format(key=key)


def _sample_heading(index: int, sample: Sample) -> str:
    parts = "part" if sample.segments == 1 else "parts"
    return (
        f"### Sample {index}: {sample.template} / {sample.variant} "
        f"({sample.encoding}, {sample.segments} SMS {parts}, {len(sample.body)} characters)"
    )


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def kit_markdown(kit: Kit) -> str:
    """The kit as a Markdown document, one section per part of the campaign forms."""
    lines = [
        f"# 10DLC campaign registration: {kit.brand}",
        "",
        "Filled in from the configuration and the templates this service sends. Paste each "
        "part into your SMS provider's campaign form (README: *Registering for 10DLC*).",
        "",
        "## Brand",
        "",
        f"- Brand name: {kit.brand}",
        f"- Numbers that send the texts: {', '.join(kit.senders) or 'none configured'}",
        "",
        "## Campaign use case",
        "",
        f"{kit.use_case_label} (`{kit.use_case}`): a text about the caller's own missed call "
        "is a support and service message.",
        "",
        "## Campaign description",
        "",
        kit.description,
        "",
        "## Message flow (how end users consent)",
        "",
        kit.message_flow,
        "",
        "### Spoken disclosure (the voice opt-in script)",
        "",
        f'"{kit.disclosure}"',
        "",
        f"Where: {DISCLOSURE_WHERE}.",
        "",
        "## Sample messages",
        "",
        f"Every template and variant, byte for byte as the first text to a caller named "
        f"Jordan ({len(kit.samples)} in all). The forms take 2 to 5: paste the first five, "
        "and any variant you mean to use most.",
        "",
    ]
    for index, sample in enumerate(kit.samples, start=1):
        lines += [_sample_heading(index, sample), "", _fence(sample.body), ""]
    answers = kit.answers
    lines += [
        "## Opt-in",
        "",
        f"- Opt-in keywords: {', '.join(kit.opt_in_keywords)}",
        f"- Opt-in message: {_answer(answers.opt_in, 'consent.confirm_opt_in')}",
        "",
        "## Opt-out",
        "",
        f"- Opt-out keywords: {', '.join(kit.opt_out_keywords)}",
        f"- Opt-out message: {_answer(answers.opt_out, 'consent.confirm_opt_out')}",
        "",
        'Free-text revocations ("please stop texting me", "remove me") opt out too.',
        "",
        "## Help",
        "",
        f"- Help keywords: {', '.join(kit.help_keywords)}",
        f"- Help message: `{answers.help}`",
        "",
        "## Message contents",
        "",
        f"- Messages include embedded links: {_yes(kit.embedded_links)}"
        + _examples([link for s in kit.samples for link in s.links]),
        f"- Messages include phone numbers: {_yes(kit.embedded_phones)}"
        + _examples([p for s in kit.samples for p in s.phones]),
    ]
    if kit.phones_in_answers and not kit.embedded_phones:
        lines.append("  (the HELP or confirmation answers carry a contact number: say yes)")
    lines += [
        "- Age-gated content: no",
        "- Direct lending or loan arrangement: no",
        "",
        "## Expected volume",
        "",
        f"{kit.volume.summary[0].upper()}{kit.volume.summary[1:]}.",
        "",
    ]
    if kit.volume.per_month is not None:
        lines += [f"From the {kit.volume.source}: {kit.volume.detail}.", ""]
    return "\n".join(lines)


def _examples(found: list[str]) -> str:
    unique = list(dict.fromkeys(found))
    if not unique:
        return ""
    more = f" and {len(unique) - 2} more" if len(unique) > 2 else ""
    return " (" + ", ".join(f"`{x}`" for x in unique[:2]) + more + ")"


def kit_dict(kit: Kit) -> dict[str, Any]:
    """The kit under stable keys."""
    answers = kit.answers
    return {
        "brand": {"name": kit.brand, "senders": list(kit.senders)},
        "use_case": {"code": kit.use_case, "label": kit.use_case_label},
        "description": kit.description,
        "message_flow": kit.message_flow,
        "disclosure": {"wording": kit.disclosure, "where": DISCLOSURE_WHERE},
        "samples": [
            {
                "template": s.template,
                "variant": s.variant,
                "body": s.body,
                "encoding": s.encoding,
                "segments": s.segments,
                "characters": len(s.body),
                "links": list(s.links),
                "phones": list(s.phones),
            }
            for s in kit.samples
        ],
        "opt_in": {"keywords": list(kit.opt_in_keywords), "message": answers.opt_in},
        "opt_out": {"keywords": list(kit.opt_out_keywords), "message": answers.opt_out},
        "help": {"keywords": list(kit.help_keywords), "message": answers.help},
        "embedded_links": kit.embedded_links,
        "embedded_phones": kit.embedded_phones,
        "phones_in_answers": kit.phones_in_answers,
        "age_gated": False,
        "direct_lending": False,
        "volume": kit.volume.as_dict(),
    }


def kit_json(kit: Kit) -> str:
    """The kit as indented JSON (UTF-8 text kept as is)."""
    return json.dumps(kit_dict(kit), indent=2, ensure_ascii=False)
