"""Write the consent evidence of one number, or of every number page by page.

``--all`` never holds more than one page of numbers (and their records) in memory: numbers
are read in order from ``store.evidence.numbers_after``, each page's records in one go,
written, and dropped. The JSON of ``--all`` is one array written as it goes.
"""

from __future__ import annotations

import csv
import json
from datetime import tzinfo
from typing import Final, TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.compliance.evidence import CSV_HEADER, as_dict, write_csv_rows
from asterisk_textback.store.evidence import NumberRecords, numbers_after, records_of
from asterisk_textback.store.uow import reading

__all__ = ["PAGE", "export_all", "export_number", "number_records"]

#: Numbers read (with their records) at a time by ``--all``.
PAGE: Final = 100


def _header(out: TextIO) -> None:
    csv.writer(out, lineterminator="\n").writerow(CSV_HEADER)


async def number_records(session: AsyncSession, number: str) -> NumberRecords:
    """Everything stored about ``number`` (E.164 as stored)."""
    return (await records_of(session, [number]))[number]


def export_number(records: NumberRecords, fmt: str, out: TextIO, zone: tzinfo) -> int:
    """Write one number's evidence as ``csv`` or ``json``; how many events."""
    if fmt == "json":
        document = as_dict(records, zone)
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return len(document["events"])
    _header(out)
    return write_csv_rows(out, records, zone)


async def export_all(
    sessions: async_sessionmaker[AsyncSession],
    fmt: str,
    out: TextIO,
    zone: tzinfo,
    *,
    page: int = PAGE,
) -> int:
    """Write every number's evidence, a page of numbers at a time; how many numbers."""
    if fmt == "json":
        out.write("[")
    else:
        _header(out)
    after, count = "", 0
    while True:
        async with reading(sessions) as session:
            numbers = await numbers_after(session, after, page)
            records = await records_of(session, numbers)
        for number in numbers:
            if fmt == "json":
                text = json.dumps(as_dict(records[number], zone), ensure_ascii=False)
                out.write(("\n" if count == 0 else ",\n") + text)
            else:
                write_csv_rows(out, records[number], zone)
            count += 1
        if len(numbers) < page:
            break
        after = numbers[-1]
    if fmt == "json":
        out.write("\n]\n" if count else "]\n")
    return count
