"""The real Asterisk 22 Master.csv: 15 calls, each classified as shared/cdr/README.md lists."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from asterisk_textback.cdr.csvfile import CdrFormatError, read_calls, read_rows
from asterisk_textback.cdr.model import CdrDirection, CdrOutcome
from asterisk_textback.cdr.summary import summarize

MASTER = Path(__file__).parents[1] / "fixtures" / "cdr" / "Master.csv"
A, M = CdrOutcome.ANSWERED, CdrOutcome.MISSED
#: README order: caller, DID, outcome, reached a VoiceMail application.
EXPECTED = [
    ("2125550147", "5550100", A, False),
    ("3105550123", "5550100", M, True),  # greeting hang-up: VoiceMail row says ANSWERED
    ("6175550188", "5550100", M, True),
    ("4155550199", "5550200", M, True),
    ("4155550199", "5550200", A, False),
    ("7135550111", "5550300", M, False),
    ("7135550111", "5550300", M, False),  # Hangup row says ANSWERED
    ("2065550142", "5550400", M, False),  # abandoned in queue: billsec > 0
    ("2065550142", "5550400", A, False),
    ("2065550142", "5550400", M, True),
    ("3035550177", "5550500", M, True),
    ("5125550166", "5550600", M, False),  # IVR answered the channel: billsec > 0
    ("anonymous", "5550100", M, False),
    ("1001", "1002", M, False),
    ("+4915112345678", "5550100", M, True),
]


def test_the_fifteen_calls_are_classified_as_the_readme_says() -> None:
    """Grouped by uniqueid, in file order; only the internal call is not inbound."""
    calls = list(read_calls(MASTER))
    assert len(calls) == 15
    got = [(c.caller, c.did, c.outcome, c.reached_voicemail) for c in calls]
    assert got == EXPECTED
    directions = [c.direction for c in calls]
    assert directions[13] is CdrDirection.INTERNAL
    assert all(d is CdrDirection.INBOUND for i, d in enumerate(directions) if i != 13)
    assert [len(c.rows) for c in calls] == [1, 2, 2, 4, 3, 2, 3, 2, 2, 5, 2, 2, 1, 1, 2]


def test_summary_counts() -> None:
    """14 inbound: 3 answered, 11 missed (10 with a number), 6 reached voicemail."""
    summary = summarize(read_calls(MASTER))
    assert (summary.inbound, summary.answered, summary.missed) == (14, 3, 11)
    assert summary.missed_textable == 10
    assert summary.missed_reached_voicemail == 6
    assert summary.internal == 1
    assert summary.missed_rate == pytest.approx(11 / 14)
    assert summary.by_did["5550400"] == (3, 2)
    assert summary.first_call == datetime(2026, 11, 27, 5, 40, 5, tzinfo=UTC)
    only = summarize(read_calls(MASTER), did="5550100")
    assert (only.inbound, only.missed) == (5, 4)


def test_rows_keep_times_in_utc_or_the_given_zone() -> None:
    """usegmtime rows are UTC; a local-time file is read in the PBX's zone."""
    first = next(read_rows(MASTER))
    assert first.start == datetime(2026, 11, 27, 5, 40, 5, tzinfo=UTC)
    assert first.answer == datetime(2026, 11, 27, 5, 40, 7, tzinfo=UTC)
    assert (first.billsec, first.disposition, first.uniqueid) == (5, "ANSWERED", "1795758005.128")
    local = next(read_rows(MASTER, zone=timezone(timedelta(hours=1))))
    assert local.start == datetime(2026, 11, 27, 4, 40, 5, tzinfo=UTC)


def test_progress_reaches_the_file_size() -> None:
    """The progress callback ends at (size, size)."""
    seen: list[tuple[int, int]] = []
    list(read_calls(MASTER, progress=lambda done, total: seen.append((done, total))))
    size = MASTER.stat().st_size
    assert seen[-1] == (size, size)


def test_without_uniqueid_rows_group_by_channel(tmp_path: Path) -> None:
    """A 16-column file (no loguniqueid) groups a call's rows by the caller's channel."""
    with MASTER.open(encoding="utf-8", newline="") as source:
        rows = [row[:16] for row in csv.reader(source) if "Dana Lee" in row[4]]
    path = tmp_path / "Master.csv"
    with path.open("w", encoding="utf-8", newline="") as target:
        csv.writer(target, quoting=csv.QUOTE_ALL).writerows(rows)
        target.write("\n")
    calls = list(read_calls(path))
    assert len(calls) == 1
    assert calls[0].outcome is CdrOutcome.MISSED


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('"","1","2"', "at least 16"),
        ('"","1","2","ctx","c","ch","","Dial","","later",,,0,0,"NO ANSWER","D"', "start time"),
    ],
)
def test_malformed_lines(tmp_path: Path, line: str, message: str) -> None:
    """A line that is not a cdr_csv row names its record number."""
    path = tmp_path / "bad.csv"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(CdrFormatError, match=message):
        list(read_rows(path))
