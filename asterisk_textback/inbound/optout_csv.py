"""``asterisk-textback optout add|remove|list|import|export``: the opt-out list as CSV.

The CSV has the header ``e164,opted_out_at,source`` (``opted_out_at`` ISO 8601, optional on
import; ``source`` optional). An import checks every row first, reports each bad one by line
number, and writes the good ones in one transaction: it never stops half-way unnoticed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.policy.numbers import parse_caller
from asterisk_textback.store import contacts

__all__ = [
    "CSV_HEADER",
    "ImportReport",
    "OptOutEntry",
    "add",
    "export_csv",
    "import_csv",
    "list_opted_out",
    "normalise_number",
    "read_csv",
    "remove",
    "write_csv",
]

CSV_HEADER = ("e164", "opted_out_at", "source")


@dataclass(frozen=True, slots=True)
class OptOutEntry:
    """One opted-out number."""

    e164: str
    opted_out_at: datetime | None
    source: str | None


@dataclass(slots=True)
class ImportReport:
    """What an import did: rows opted out, rows already opted out, and rejected lines."""

    added: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return not self.errors


def normalise_number(raw: str, region: str) -> str:
    """The E.164 form of ``raw``, reading national numbers in ``region``; ValueError if none."""
    number = parse_caller(raw, region)
    if number.e164 is None:
        raise ValueError(f"{raw!r} is not a valid phone number ({number.kind.value})")
    return number.e164


async def add(
    session: AsyncSession, raw: str, *, region: str, now: datetime, source: str = "cli"
) -> str:
    """Opt a number out (in the caller's unit of work); its E.164 form."""
    e164 = normalise_number(raw, region)
    await contacts.opt_out(session, e164, now=now, source=source)
    return e164


async def remove(
    session: AsyncSession, raw: str, *, region: str, now: datetime, source: str = "cli"
) -> str:
    """Lift a number's opt-out (in the caller's unit of work); its E.164 form."""
    e164 = normalise_number(raw, region)
    await contacts.opt_in(session, e164, now=now, source=source)
    return e164


async def list_opted_out(session: AsyncSession) -> list[OptOutEntry]:
    """Every opted-out number, in number order."""
    rows = await contacts.opted_out(session)
    return [OptOutEntry(e164, at, source) for e164, at, source in rows]


def write_csv(entries: Iterable[OptOutEntry], out: TextIO) -> int:
    """Write ``entries`` as CSV with the header; how many rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    count = 0
    for entry in entries:
        at = "" if entry.opted_out_at is None else entry.opted_out_at.isoformat()
        writer.writerow((entry.e164, at, entry.source or ""))
        count += 1
    return count


async def export_csv(session: AsyncSession, out: TextIO) -> int:
    """Write the opt-out list to ``out``; how many numbers."""
    return write_csv(await list_opted_out(session), out)


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def read_csv(
    src: TextIO, *, region: str, source: str
) -> tuple[list[OptOutEntry], list[tuple[int, str]]]:
    """Parse and check a CSV: the good rows and (line number, reason) for each bad one."""
    reader = csv.DictReader(src)
    header = [name.strip().lower() for name in reader.fieldnames or ()]
    if "e164" not in header:
        return [], [(1, "header must name an e164 column (e164,opted_out_at,source)")]
    reader.fieldnames = header
    good: dict[str, OptOutEntry] = {}
    errors: list[tuple[int, str]] = []
    for row in reader:
        line = reader.line_num
        raw = (row.get("e164") or "").strip()
        if not raw and not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # blank line
        try:
            e164 = normalise_number(raw, region)
            at_text = (row.get("opted_out_at") or "").strip()
            at = _parse_time(at_text) if at_text else None
        except ValueError as exc:
            errors.append((line, str(exc)))
            continue
        row_source = (row.get("source") or "").strip() or source
        good.setdefault(e164, OptOutEntry(e164, at, row_source[:64]))
    return list(good.values()), errors


async def import_csv(
    session: AsyncSession, src: TextIO, *, region: str, now: datetime, source: str = "import"
) -> ImportReport:
    """Opt out every valid number in the CSV in the caller's unit of work; report the rest.

    Numbers already opted out keep their original time and source.
    """
    entries, errors = read_csv(src, region=region, source=source)
    report = ImportReport(errors=errors)
    rows = [(entry.e164, entry.opted_out_at, entry.source) for entry in entries]
    report.added, report.unchanged = await contacts.opt_out_many(session, rows, now=now)
    return report
