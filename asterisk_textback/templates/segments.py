"""GSM-7 / UCS-2 detection and SMS segment counting (3GPP TS 23.038 and TS 23.040).

A text that uses only the GSM 7-bit default alphabet (plus its extension table, whose
characters cost an escape septet each) travels as GSM-7: 160 septets in one SMS, 153 per part
once concatenated (the user-data header takes the rest). Any other character forces the whole
text to UCS-2: 70 UTF-16 code units in one SMS, 67 per part. Neither an escape pair nor a
surrogate pair may be split across parts, so counting packs characters greedily.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

# The GSM 7-bit default alphabet, TS 23.038 §6.2.1, in table order (0x1B, the escape to the
# extension table, is left out: it is not a character anyone writes).
_GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The extension table, TS 23.038 §6.2.1.1: each costs two septets (escape + code).
_GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE: Final = 160
GSM7_MULTI: Final = 153
UCS2_SINGLE: Final = 70
UCS2_MULTI: Final = 67

# Typographic punctuation that silently forces UCS-2, mapped to GSM-7 look-alikes.
_SMART_MAP: Final = {
    ord("\u2018"): "'",  # left single quote
    ord("\u2019"): "'",  # right single quote / apostrophe
    ord("\u201a"): "'",
    ord("\u2032"): "'",
    ord("\u201c"): '"',
    ord("\u201d"): '"',
    ord("\u201e"): '"',
    ord("\u2033"): '"',
    ord("\u2013"): "-",  # en dash
    ord("\u2014"): "-",  # em dash
    ord("\u2212"): "-",
    ord("\u2026"): "...",
    ord("\u00a0"): " ",  # no-break space
    ord("\u2009"): " ",
    ord("\u202f"): " ",
    ord("\u200b"): "",  # zero-width space
    ord("\u00ab"): '"',
    ord("\u00bb"): '"',
}

# Letters whose faithful GSM-7 form is not what Unicode decomposition gives.
_TRANSLIT_MAP: Final = {
    ord("ł"): "l",
    ord("Ł"): "L",
    ord("đ"): "d",
    ord("Đ"): "D",
    ord("ð"): "d",
    ord("Ð"): "D",
    ord("ı"): "i",
    ord("œ"): "oe",
    ord("Œ"): "OE",
    ord("þ"): "th",
    ord("Þ"): "Th",
    ord("ĸ"): "k",
}

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """How a text travels as SMS: encoding, parts, and size in septets or UTF-16 units."""

    encoding: Encoding
    segments: int
    #: Septets (GSM-7, extension characters count two) or UTF-16 code units (UCS-2).
    units: int
    #: Characters (Unicode code points).
    length: int


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM-7 default alphabet or its extension table."""
    return all(ch in _GSM7_BASIC or ch in _GSM7_EXTENSION for ch in text)


def to_gsm7(text: str) -> str | None:
    """``text`` in GSM-7 when each character has a faithful form ("Zoë" → "Zoe"), else None.

    Characters already in GSM-7 stay (é, ü, ñ…); others lose their accents (NFKD without
    combining marks) or use a known spelling (ł → l, œ → oe); a script GSM-7 cannot write
    (王, Ж) has no faithful form.
    """
    out = []
    for ch in smart_encode(text):
        if ch in _GSM7_BASIC or ch in _GSM7_EXTENSION:
            out.append(ch)
            continue
        base = ch.translate(_TRANSLIT_MAP)
        if base == ch:
            decomposed = unicodedata.normalize("NFKD", ch)
            base = "".join(c for c in decomposed if not unicodedata.combining(c))
        if not base or not is_gsm7(base):
            return None
        out.append(base)
    return "".join(out)


def smart_encode(text: str) -> str:
    """Replace typographic quotes, dashes and spaces with GSM-7 look-alikes."""
    return text.translate(_SMART_MAP)


def _pack(widths: list[int], single: int, multi: int) -> int:
    total = sum(widths)
    if total == 0:
        return 0
    if total <= single:
        return 1
    # Greedy: a character that does not fit whole starts the next part (never split a pair).
    segments, used = 1, 0
    for width in widths:
        if used + width > multi:
            segments += 1
            used = 0
        used += width
    return segments


def count_segments(text: str) -> SegmentInfo:
    """Count the SMS parts ``text`` needs; an empty text needs none."""
    if is_gsm7(text):
        widths = [2 if ch in _GSM7_EXTENSION else 1 for ch in text]
        encoding: Encoding = "GSM-7"
        segments = _pack(widths, GSM7_SINGLE, GSM7_MULTI)
    else:
        widths = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        encoding = "UCS-2"
        segments = _pack(widths, UCS2_SINGLE, UCS2_MULTI)
    return SegmentInfo(encoding=encoding, segments=segments, units=sum(widths), length=len(text))
