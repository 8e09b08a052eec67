"""Read ``Master.csv`` as written by Asterisk's ``cdr_csv``, streaming, with progress.

``cdr_csv`` has no header. Its columns are accountcode, src, dst, dcontext, clid, channel,
dstchannel, lastapp, lastdata, start, answer, end, duration, billsec, disposition, amaflags,
then ``uniqueid`` (``loguniqueid=yes``), ``userfield`` (``loguserfield=yes``) and, with
``newcdrcolumns=yes``, peeraccount, linkedid and sequence. Times are UTC with
``usegmtime=yes``, otherwise the PBX's local time: pass its zone.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Final

from asterisk_textback.cdr.model import INBOUND_CONTEXT_PREFIXES, CdrCall, CdrRow, group_calls

__all__ = ["CdrFormatError", "Progress", "csv_records", "read_calls", "read_rows"]

#: Called with (bytes read so far, file size) every few thousand rows and at the end.
Progress = Callable[[int, int], None]

_BASE_COLUMNS: Final = 16
_LINKEDID_COLUMN: Final = 19
_PROGRESS_EVERY: Final = 5000
_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


class CdrFormatError(ValueError):
    """A line of the CSV is not a ``cdr_csv`` row."""


def _time(text: str, zone: tzinfo) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        return None


def _int(text: str) -> int:
    try:
        return int(text.strip() or 0)
    except ValueError:
        return 0


def _row(fields: list[str], zone: tzinfo, line: int) -> CdrRow:
    if len(fields) < _BASE_COLUMNS:
        raise CdrFormatError(f"line {line}: {len(fields)} columns, cdr_csv writes at least 16")
    start = _time(fields[9], zone)
    if start is None:
        raise CdrFormatError(f"line {line}: start time {fields[9]!r} is not a cdr_csv time")
    uniqueid = fields[16] if len(fields) > _BASE_COLUMNS else ""
    linkedid = fields[_LINKEDID_COLUMN] if len(fields) > _LINKEDID_COLUMN else ""
    return CdrRow(
        src=fields[1],
        dst=fields[2],
        dcontext=fields[3],
        clid=fields[4],
        channel=fields[5],
        dstchannel=fields[6],
        lastapp=fields[7],
        lastdata=fields[8],
        start=start,
        answer=_time(fields[10], zone),
        end=_time(fields[11], zone),
        duration=_int(fields[12]),
        billsec=_int(fields[13]),
        disposition=fields[14],
        # Without loguniqueid the caller's channel name is the best shared key left.
        uniqueid=uniqueid or fields[5],
        linkedid=linkedid,
    )


def csv_records(path: Path, progress: Progress | None = None) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank CSV record of ``path``, with byte progress."""
    total = path.stat().st_size
    done = 0
    with path.open("rb") as raw:

        def lines() -> Iterator[str]:
            nonlocal done
            for chunk in raw:
                done += len(chunk)
                yield chunk.decode("utf-8", errors="replace")

        reader = csv.reader(lines())
        for count, fields in enumerate(reader, start=1):
            if fields and fields != [""]:
                yield reader.line_num, fields
            if progress is not None and count % _PROGRESS_EVERY == 0:
                progress(done, total)
    if progress is not None:
        progress(total, total)


def read_rows(path: Path, zone: tzinfo = UTC, progress: Progress | None = None) -> Iterator[CdrRow]:
    """Yield the rows of a ``cdr_csv`` file in file order (blank lines skipped)."""
    for line, fields in csv_records(path, progress):
        yield _row(fields, zone, line)


def read_calls(
    path: Path,
    zone: tzinfo = UTC,
    progress: Progress | None = None,
    inbound_prefixes: tuple[str, ...] = INBOUND_CONTEXT_PREFIXES,
) -> Iterator[CdrCall]:
    """Yield the calls of a ``cdr_csv`` file, grouped and classified."""
    return group_calls(read_rows(path, zone, progress), inbound_prefixes)
