"""Segment counting against known values (3GPP TS 23.038 / 23.040)."""

from __future__ import annotations

import pytest

from asterisk_textback.templates import SegmentInfo, count_segments, is_gsm7, smart_encode

EXTENSION = "\f^{}\\[~]|€"


def test_empty_text_needs_no_segment() -> None:
    assert count_segments("") == SegmentInfo("GSM-7", 0, 0, 0)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_boundaries(length: int, segments: int) -> None:
    info = count_segments("a" * length)
    assert info == SegmentInfo("GSM-7", segments, length, length)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_boundaries(length: int, segments: int) -> None:
    info = count_segments("ú" * length)
    assert info == SegmentInfo("UCS-2", segments, length, length)


@pytest.mark.parametrize("char", list(EXTENSION))
def test_extension_characters_count_two_septets(char: str) -> None:
    info = count_segments(char)
    assert (info.encoding, info.units, info.length) == ("GSM-7", 2, 1)


def test_euro_signs_fill_a_segment_at_80() -> None:
    assert count_segments("€" * 80).segments == 1
    assert count_segments("€" * 81) == SegmentInfo("GSM-7", 2, 162, 81)


def test_escape_pair_is_never_split_across_segments() -> None:
    # 306 septets would be 2 parts by arithmetic, but the euro sign straddles 153.
    text = "a" * 152 + "€" + "a" * 152
    assert count_segments(text) == SegmentInfo("GSM-7", 3, 306, 305)
    # Moved one earlier, it fits: 151 + 2 = 153 in part one.
    assert count_segments("a" * 151 + "€" + "a" * 153).segments == 2


def test_single_emoji_forces_ucs2() -> None:
    info = count_segments("Hi 👋")
    assert info == SegmentInfo("UCS-2", 1, 5, 4)


def test_emoji_outside_bmp_counts_two_code_units() -> None:
    assert count_segments("a" * 68 + "😀").segments == 1  # 70 units exactly
    assert count_segments("a" * 69 + "😀") == SegmentInfo("UCS-2", 2, 71, 70)


def test_emoji_at_segment_boundary_is_not_split() -> None:
    # 134 code units = 2 parts by arithmetic, but the surrogate pair straddles 67.
    text = "a" * 66 + "😀" + "a" * 66
    assert count_segments(text) == SegmentInfo("UCS-2", 3, 134, 133)
    assert count_segments("a" * 65 + "😀" + "a" * 67).segments == 2


def test_bmp_symbol_counts_one_code_unit() -> None:
    assert count_segments("✓" * 70) == SegmentInfo("UCS-2", 1, 70, 70)


@pytest.mark.parametrize(
    "char", list("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r !\"#%&'()*+,-./:;<=>?")
)
def test_basic_table_characters_are_gsm7(char: str) -> None:
    info = count_segments(char)
    assert (info.encoding, info.units) == ("GSM-7", 1)


# Also a no-break space and the ohm sign (which looks like, but is not, the Greek omega).
@pytest.mark.parametrize("char", [*"úáíóçêâûÁÍÓÚ`’“—…\t", "\u00a0", "\u2126"])
def test_characters_outside_the_table_force_ucs2(char: str) -> None:
    assert not is_gsm7(char)
    assert count_segments("hello " + char).encoding == "UCS-2"


def test_whole_alphabet_is_gsm7() -> None:
    alphabet = "".join(chr(c) for c in range(ord("A"), ord("Z") + 1))
    assert is_gsm7(alphabet + alphabet.lower() + "0123456789" + EXTENSION)


def test_smart_encode_keeps_typographic_text_gsm7() -> None:
    text = smart_encode("We’re “closed” — back at 8…\u00a0ok")
    assert text == 'We\'re "closed" - back at 8... ok'
    assert is_gsm7(text)
