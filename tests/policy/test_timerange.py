"""Parsing and containment of daily wall-clock ranges."""

from __future__ import annotations

import pytest
from pydantic_core import PydanticCustomError

from asterisk_textback.policy import TimeRange, parse_range


@pytest.mark.parametrize(
    ("text", "start", "end", "crosses"),
    [
        ("08:00-12:00", 480, 720, False),
        ("8:00-17:30", 480, 1050, False),
        (" 13:00 - 17:30 ", 780, 1050, False),
        ("09:00–17:00", 540, 1020, False),  # en dash, as word processors write it
        ("00:00-24:00", 0, 1440, False),
        ("22:00-24:00", 1320, 1440, False),
        ("22:00-02:00", 1320, 120, True),
        ("21:00-08:00", 1260, 480, True),
        ("12:00-00:00", 720, 0, True),
    ],
)
def test_parse_valid(text: str, start: int, end: int, crosses: bool) -> None:
    parsed = parse_range(text)
    assert (parsed.start, parsed.end, parsed.crosses_midnight) == (start, end, crosses)


@pytest.mark.parametrize(
    "text",
    ["25:00-26:00", "08:60-09:00", "24:00-08:00", "24:30", "08:00", "8-17", "08:00-08:00", "", 9],
)
def test_parse_invalid_quotes_the_value(text: object) -> None:
    with pytest.raises(PydanticCustomError) as info:
        parse_range(text)
    assert str(info.value).startswith(f'"{text}" is not a time range')


def test_str_round_trips() -> None:
    assert str(parse_range("8:05-22:00")) == "08:05-22:00"
    assert str(TimeRange(1320, 120)) == "22:00-02:00"


@pytest.mark.parametrize(
    ("text", "clock", "covers", "spills"),
    [
        ("08:00-12:00", "07:59:59", False, False),
        ("08:00-12:00", "08:00:00", True, False),
        ("08:00-12:00", "11:59:59", True, False),
        ("08:00-12:00", "12:00:00", False, False),
        ("22:00-02:00", "21:59:59", False, False),
        ("22:00-02:00", "22:00:00", True, False),
        ("22:00-02:00", "23:59:59", True, False),
        ("22:00-02:00", "00:00:00", False, True),
        ("22:00-02:00", "01:59:59", False, True),
        ("22:00-02:00", "02:00:00", False, False),
    ],
)
def test_covers_and_spills_over(text: str, clock: str, covers: bool, spills: bool) -> None:
    h, m, s = (int(part) for part in clock.split(":"))
    seconds = h * 3600 + m * 60 + s
    assert parse_range(text).covers(seconds) is covers
    assert parse_range(text).spills_over(seconds) is spills
