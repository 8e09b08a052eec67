"""``asterisk-textback templates preview``: every template and variant rendered with samples."""

from __future__ import annotations

from dataclasses import dataclass

from asterisk_textback.templates.context import MessageContext
from asterisk_textback.templates.render import Renderer
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


def preview_rows(settings: TemplatesSettings, sample: MessageContext) -> list[PreviewRow]:
    """Render every variant of every template for ``sample`` as a first contact."""
    renderer = Renderer(settings)
    rows: list[PreviewRow] = []
    for name, spec in settings.templates.items():
        for variant in spec.variants:
            text = renderer.render(name, sample, first_contact=True, variant=variant.name)
            rows.append(
                PreviewRow(
                    template=name,
                    variant=variant.name,
                    body=text.body,
                    encoding=text.encoding,
                    segments=text.segments,
                    chars=text.info.length,
                )
            )
    return rows


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
