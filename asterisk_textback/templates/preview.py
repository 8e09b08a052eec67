"""``asterisk-textback templates preview``: every template and variant, exactly as billed.

Each variant is rendered by the send path's own :func:`~.compose.render_for_call` for a
sample missed call, as the first text to a number: the booking link carries a tracking token
of the real length and the opt-out footer is on, so the characters, encoding and segment
count shown are the ones the provider charges for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from asterisk_textback.calls.model import CallEnded
from asterisk_textback.config import Settings
from asterisk_textback.templates.compose import SAMPLE_NUMBER, render_for_call, sample_call
from asterisk_textback.templates.render import RenderedText, Renderer
from asterisk_textback.templates.settings import TemplatesSettings

_HEADERS = ("template", "variant", "encoding", "segments", "chars", "body")


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One rendered variant as the preview shows it (as a first contact, footer included)."""

    template: str
    variant: str
    body: str
    encoding: str
    segments: int
    chars: int


def first_texts(
    settings: Settings,
    renderer: Renderer,
    call: CallEnded,
    *,
    to: str = SAMPLE_NUMBER,
    tracking_secret: str = "",
) -> Iterator[tuple[str, str, RenderedText]]:
    """``(template, variant, text)`` for every variant of every template, as ``call``'s first
    text to ``to``: the send path's own rendering (the preview and the 10DLC kit use it)."""
    for name, spec in settings.templates.templates.items():
        for variant in spec.variants:
            text = render_for_call(
                call,
                settings,
                renderer,
                template=name,
                to=to,
                variant=variant.name,
                first_contact=True,
                tracking_secret=tracking_secret,
            )
            yield name, variant.name, text


def preview_rows(
    settings: Settings, renderer: Renderer, call: CallEnded | None = None
) -> list[PreviewRow]:
    """Render every variant of every template for ``call`` (the sample) as a first contact."""
    return [
        PreviewRow(
            template=name,
            variant=variant,
            body=text.body,
            encoding=text.encoding,
            segments=text.segments,
            chars=text.info.length,
        )
        for name, variant, text in first_texts(settings, renderer, call or sample_call())
    ]


def note(settings: TemplatesSettings, *, booking_link: bool) -> str:
    """What the figures include, printed under the table."""
    parts = ["As the first text to a caller named Jordan"]
    if booking_link:
        parts.append("the booking link with its tracking token (as sent)")
    if settings.provider_adds_footer:
        parts.append("without the opt-out footer your provider adds (not counted here)")
    else:
        parts.append("with the opt-out footer (later texts to the same number have none)")
    return ", ".join(parts) + "."


def format_table(rows: list[PreviewRow]) -> str:
    """A plain-text table of ``rows``; line breaks in bodies are shown as ``\\n``."""
    cells = [
        (
            r.template,
            r.variant,
            r.encoding,
            str(r.segments),
            str(r.chars),
            r.body.replace("\r", "\\r").replace("\n", "\\n"),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [_HEADERS, *cells]) for i in range(len(_HEADERS) - 1)]
    numeric = {3, 4}

    def line(row: tuple[str, ...]) -> str:
        head = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        return "  ".join([*head, row[-1]]).rstrip()

    rule = "  ".join("-" * w for w in widths) + "  " + "-" * len(_HEADERS[-1])
    return "\n".join([line(_HEADERS), rule, *(line(row) for row in cells)])
