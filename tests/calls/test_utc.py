"""The one UTC helper: epoch seconds and stored values become aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from asterisk_textback.calls.utc import aware, utc


def test_utc_is_aware_and_round_trips() -> None:
    moment = utc(1_700_000_000.5)
    assert moment.tzinfo is UTC
    assert moment.timestamp() == 1_700_000_000.5


def test_aware_reads_naive_as_utc() -> None:
    assert aware(datetime(2026, 1, 2, 3, 4, 5)) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_aware_parses_sqlite_text() -> None:
    assert aware("2026-01-02 03:04:05.250000") == datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)


def test_aware_converts_other_zones_to_utc() -> None:
    plus_two = datetime(2026, 1, 2, 5, 0, tzinfo=timezone(timedelta(hours=2)))
    converted = aware(plus_two)
    assert converted.tzinfo is UTC
    assert converted.hour == 3


def test_aware_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        aware(12)  # type: ignore[arg-type]
