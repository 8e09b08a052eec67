"""Call history from CEL where it exists and CDR for the rest, counting which log decided.

CEL decides a call's outcome whenever it has the call (it sees bridges, so "answered" means
a person). A CDR call is the same call when its key (``linkedid``, or the first channel's
``uniqueid`` in ``cdr_csv``) or any of its rows' ``uniqueid`` is a channel CEL saw; only
CDR calls CEL never saw are used, so nothing is counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from asterisk_textback.cdr.cel import CelCall
from asterisk_textback.cdr.celcsv import CEL_CSV_COLUMNS, CelReadStats, read_cel_calls
from asterisk_textback.cdr.celdb import cel_has_events, read_db_cel_calls
from asterisk_textback.cdr.csvfile import Progress, read_calls
from asterisk_textback.cdr.database import open_cdr_engine, read_db_rows, set_read_only
from asterisk_textback.cdr.model import (
    INBOUND_CONTEXT_PREFIXES,
    CdrCall,
    ClassifiedCall,
    group_calls,
)

__all__ = ["HistorySources", "iter_db_history", "iter_file_history", "merge_calls"]


@dataclass(slots=True)
class HistorySources:
    """Which logs a history read used (filled in while the calls are consumed)."""

    cel_available: bool = False
    cel_calls: int = 0
    cdr_calls: int = 0
    #: CDR calls left out because CEL classified them.
    cdr_superseded: int = 0
    #: Line numbers of a CEL file skipped as malformed.
    cel_skipped_lines: list[int] = field(default_factory=list)

    def describe(self) -> str:
        """One line: ``classified from CEL (12 calls), CDR used for 0``."""
        if not self.cel_available:
            return f"classified from CDR ({self.cdr_calls:,} calls); no CEL for this period"
        line = f"classified from CEL ({self.cel_calls:,} calls), CDR used for {self.cdr_calls:,}"
        if self.cel_skipped_lines:
            line += f"; {len(self.cel_skipped_lines):,} malformed CEL line(s) skipped"
        return line

    def as_dict(self) -> dict[str, Any]:
        """The counts as JSON-ready values."""
        return {
            "cel_available": self.cel_available,
            "cel_calls": self.cel_calls,
            "cdr_calls": self.cdr_calls,
            "cdr_superseded_by_cel": self.cdr_superseded,
            "cel_skipped_lines": list(self.cel_skipped_lines),
        }


def merge_calls(
    cel_calls: Iterable[CelCall],
    cdr_calls: Iterable[CdrCall],
    sources: HistorySources | None = None,
) -> Iterator[ClassifiedCall]:
    """Every CEL call, then the CDR calls CEL did not see (CEL is read to the end first)."""
    sources = sources if sources is not None else HistorySources()
    keys: set[str] = set()
    channels: set[str] = set()
    for call in cel_calls:
        keys.add(call.key)
        channels.update(call.uniqueids)
        sources.cel_calls += 1
        yield call
    for cdr_call in cdr_calls:
        if cdr_call.key in keys or any(row.uniqueid in channels for row in cdr_call.rows):
            sources.cdr_superseded += 1
            continue
        sources.cdr_calls += 1
        yield cdr_call


def iter_db_history(
    url: str,
    start: datetime | None = None,
    end: datetime | None = None,
    zone: tzinfo = UTC,
    cdr_table: str = "cdr",
    cel_table: str | None = "cel",
    sources: HistorySources | None = None,
    inbound_prefixes: tuple[str, ...] = INBOUND_CONTEXT_PREFIXES,
) -> Iterator[ClassifiedCall]:
    """Calls of a CDR database in ``[start, end)``: from its CEL table when that has events
    for the window, CDR for the calls CEL lacks. Read-only; consume it in one go."""
    sources = sources if sources is not None else HistorySources()
    engine = open_cdr_engine(url)
    try:
        with engine.connect() as connection:
            set_read_only(connection)
            use_cel = cel_table is not None and cel_has_events(
                connection, start, end, zone, cel_table
            )
            sources.cel_available = use_cel
            cel: Iterable[CelCall] = ()
            if use_cel and cel_table is not None:
                cel = read_db_cel_calls(connection, start, end, zone, cel_table, inbound_prefixes)
            rows = read_db_rows(connection, start, end, zone, cdr_table)
            cdr = group_calls(rows, inbound_prefixes)
            yield from merge_calls(cel, cdr, sources)
            connection.rollback()
    finally:
        engine.dispose()


def iter_file_history(
    cdr: Path | None,
    cel: Path | None,
    zone: tzinfo = UTC,
    cel_columns: Sequence[str] = CEL_CSV_COLUMNS,
    sources: HistorySources | None = None,
    progress: Progress | None = None,
    cel_progress: Progress | None = None,
    inbound_prefixes: tuple[str, ...] = INBOUND_CONTEXT_PREFIXES,
) -> Iterator[ClassifiedCall]:
    """Calls of a ``cel_custom`` CSV and/or a ``cdr_csv`` file, CEL deciding where it can."""
    sources = sources if sources is not None else HistorySources()
    cel_calls: Iterable[CelCall] = ()
    if cel is not None:
        sources.cel_available = True
        stats = CelReadStats(skipped=sources.cel_skipped_lines)
        cel_calls = read_cel_calls(cel, zone, cel_progress, cel_columns, inbound_prefixes, stats)
    cdr_calls: Iterable[CdrCall] = ()
    if cdr is not None:
        cdr_calls = read_calls(cdr, zone, progress, inbound_prefixes)
    return merge_calls(cel_calls, cdr_calls, sources)
