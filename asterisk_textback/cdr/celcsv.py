"""Read CEL as written by Asterisk's ``cel_custom`` (``cel-custom/Master.csv``), streaming.

The column order is whatever the ``[mappings]`` line of ``cel_custom.conf`` says; the default
is the sample mapping shipped with Asterisk: eventtype, eventtime, CALLERID(name/num/ANI/
RDNIS/DNID), CHANNEL(exten/context/channame/appname/appdata/amaflags/accountcode/uniqueid/
linkedid), BRIDGEPEER, CHANNEL(userfield), userdeftype, eventextra. (Asterisk 22's sample
adds a ``"My Literal"`` demo column after eventtype: pass the order with a ``-`` there.)
The files have no header; a first line naming the columns is used as the order instead.
``eventtime`` is ``seconds.micros`` since the epoch unless ``cel.conf`` sets ``dateformat``:
then it is the PBX's local time, read in the zone given. Malformed lines are logged with
their line number and skipped: one bad write must not lose a year of history.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Final

from asterisk_textback.calls.utc import utc
from asterisk_textback.cdr.cel import CelCall, CelEvent
from asterisk_textback.cdr.celclassify import group_cel
from asterisk_textback.cdr.csvfile import Progress, csv_records
from asterisk_textback.cdr.model import INBOUND_CONTEXT_PREFIXES

__all__ = ["CEL_CSV_COLUMNS", "CelReadStats", "parse_columns", "read_cel_calls", "read_cel_events"]

log = logging.getLogger(__name__)

#: The sample ``cel_custom.conf`` mapping's order, named as the ``cel`` table's columns.
CEL_CSV_COLUMNS: Final = (
    "eventtype",
    "eventtime",
    "cid_name",
    "cid_num",
    "cid_ani",
    "cid_rdnis",
    "cid_dnid",
    "exten",
    "context",
    "channame",
    "appname",
    "appdata",
    "amaflags",
    "accountcode",
    "uniqueid",
    "linkedid",
    "peer",
    "userfield",
    "userdeftype",
    "extra",
)
_REQUIRED: Final = ("eventtype", "eventtime", "channame", "uniqueid")
_ALIASES: Final = {"eventextra": "extra", "bridgepeer": "peer", "channel": "channame"}
_TIME_FORMATS: Final = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")


@dataclass(slots=True)
class CelReadStats:
    """What a read saw: events used and line numbers skipped as malformed."""

    events: int = 0
    skipped: list[int] | None = None


def parse_columns(text: str) -> tuple[str, ...]:
    """``"eventtype,eventtime,…"`` -> the column order (``-`` or unknown names are ignored)."""
    names = tuple(_ALIASES.get(n.strip().lower(), n.strip().lower()) for n in text.split(","))
    missing = [n for n in _REQUIRED if n not in names]
    if missing:
        raise ValueError(f"CEL columns lack {', '.join(missing)}")
    return names


def _time(text: str, zone: tzinfo) -> datetime:
    text = text.strip()
    try:
        return utc(float(text))
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=zone).astimezone(UTC)
        except ValueError:
            continue
    raise ValueError(f"eventtime {text!r} is neither epoch seconds nor a cel.conf dateformat")


def _event(fields: list[str], columns: Sequence[str], zone: tzinfo) -> CelEvent:
    if len(fields) < len(columns):
        raise ValueError(f"{len(fields)} columns, the mapping has {len(columns)}")
    row = dict(zip(columns, fields, strict=False))
    if not row["eventtype"].strip() or not row["uniqueid"].strip():
        raise ValueError("no eventtype or uniqueid")

    def get(name: str) -> str:
        return row.get(name, "")

    return CelEvent(
        eventtype=row["eventtype"].strip(),
        eventtime=_time(row["eventtime"], zone),
        channame=row["channame"],
        uniqueid=row["uniqueid"],
        linkedid=get("linkedid"),
        cid_name=get("cid_name"),
        cid_num=get("cid_num"),
        cid_dnid=get("cid_dnid"),
        exten=get("exten"),
        context=get("context"),
        appname=get("appname"),
        appdata=get("appdata"),
        peer=get("peer"),
        extra=get("extra"),
    )


def read_cel_events(
    path: Path,
    zone: tzinfo = UTC,
    progress: Progress | None = None,
    columns: Sequence[str] = CEL_CSV_COLUMNS,
    stats: CelReadStats | None = None,
) -> Iterator[CelEvent]:
    """Yield the events of a ``cel_custom`` CSV in file order, skipping malformed lines."""
    stats = stats if stats is not None else CelReadStats()
    stats.skipped = stats.skipped if stats.skipped is not None else []
    for line, fields in csv_records(path, progress):
        if line == 1 and fields[0].strip().lower() == "eventtype":
            columns = parse_columns(",".join(fields))
            continue
        try:
            event = _event(fields, columns, zone)
        except ValueError as exc:
            log.warning("%s line %d skipped: %s", path, line, exc)
            stats.skipped.append(line)
            continue
        stats.events += 1
        yield event


def read_cel_calls(
    path: Path,
    zone: tzinfo = UTC,
    progress: Progress | None = None,
    columns: Sequence[str] = CEL_CSV_COLUMNS,
    inbound_prefixes: tuple[str, ...] = INBOUND_CONTEXT_PREFIXES,
    stats: CelReadStats | None = None,
) -> Iterator[CelCall]:
    """Yield the calls of a ``cel_custom`` CSV, grouped by linkedid and classified."""
    return group_cel(read_cel_events(path, zone, progress, columns, stats), inbound_prefixes)
