"""Read CEL from a database (FreePBX ``asteriskcdrdb.cel``, written by ``cel_odbc``), read-only.

The same URL and read-only session as the CDR reader (``database.py``). ``eventtime`` is the
PBX's local time without a zone (FreePBX default): pass the zone. Events are streamed in
chunks ordered by ``eventtime, id`` and grouped by ``linkedid`` as they come, so memory holds
only the calls in progress. A call that starts in the window may end after it: events are
read a little past the end, and calls whose first channel started outside are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

from sqlalchemy import Column, MetaData, Table, inspect, select
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql.elements import ColumnElement

from asterisk_textback.cdr.cel import CelCall, CelEvent
from asterisk_textback.cdr.celclassify import group_cel
from asterisk_textback.cdr.database import aware_time, naive_local, set_read_only
from asterisk_textback.cdr.model import INBOUND_CONTEXT_PREFIXES

__all__ = ["CEL_TABLE_COLUMNS", "cel_has_events", "read_db_cel_calls", "read_db_cel_events"]

#: Columns a CEL table must have; the others of ``CelEvent`` are read when present.
CEL_TABLE_COLUMNS: Final = ("eventtype", "eventtime", "channame", "uniqueid", "linkedid")
_OPTIONAL: Final = (
    "cid_name",
    "cid_num",
    "cid_dnid",
    "exten",
    "context",
    "appname",
    "appdata",
    "peer",
    "extra",
    "eventextra",
    "id",
)
_BATCH: Final = 5000
#: How long after the window's end a call that began inside it may still log events.
_TAIL: Final = timedelta(hours=6)


def _table(connection: Connection, table_name: str) -> Table | None:
    """The CEL table with the columns it has, or None when it is absent or not a CEL table."""
    inspector = inspect(connection)
    if not inspector.has_table(table_name):
        return None
    present = {c["name"].lower() for c in inspector.get_columns(table_name)}
    if any(name not in present for name in CEL_TABLE_COLUMNS):
        return None
    names = [*CEL_TABLE_COLUMNS, *(n for n in _OPTIONAL if n in present)]
    return Table(table_name, MetaData(), *(Column(name) for name in names))


def _window(
    table: Table, start: datetime | None, end: datetime | None, zone: tzinfo, tail: timedelta
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if start is not None:
        where.append(table.c.eventtime >= naive_local(start, zone))
    if end is not None:
        where.append(table.c.eventtime < naive_local(end + tail, zone))
    return where


def cel_has_events(
    connection: Connection,
    start: datetime | None = None,
    end: datetime | None = None,
    zone: tzinfo = UTC,
    table_name: str = "cel",
) -> bool:
    """True when a CEL table exists and holds at least one event in ``[start, end)``."""
    table = _table(connection, table_name)
    if table is None:
        return False
    query = select(table.c.eventtype).where(*_window(table, start, end, zone, timedelta(0)))
    return connection.execute(query.limit(1)).first() is not None


def read_db_cel_events(
    connection: Connection,
    start: datetime | None = None,
    end: datetime | None = None,
    zone: tzinfo = UTC,
    table_name: str = "cel",
) -> Iterator[CelEvent]:
    """Yield CEL events from ``start`` to a little past ``end``, in time order."""
    set_read_only(connection)
    table = _table(connection, table_name)
    if table is None:
        raise ValueError(f"no CEL table {table_name!r} (needs {', '.join(CEL_TABLE_COLUMNS)})")
    order = [table.c.eventtime, table.c.id] if "id" in table.c else [table.c.eventtime]
    query = select(table).where(*_window(table, start, end, zone, _TAIL)).order_by(*order)
    result = connection.execution_options(stream_results=True, yield_per=_BATCH).execute(query)
    for row in result.mappings():

        def text(name: str, row: RowMapping = row) -> str:
            value = row.get(name)
            return "" if value is None else str(value)

        yield CelEvent(
            eventtype=text("eventtype"),
            eventtime=aware_time(row["eventtime"], zone),
            channame=text("channame"),
            uniqueid=text("uniqueid"),
            linkedid=text("linkedid"),
            cid_name=text("cid_name"),
            cid_num=text("cid_num"),
            cid_dnid=text("cid_dnid"),
            exten=text("exten"),
            context=text("context"),
            appname=text("appname"),
            appdata=text("appdata"),
            peer=text("peer"),
            extra=text("extra") or text("eventextra"),
        )


def read_db_cel_calls(
    connection: Connection,
    start: datetime | None = None,
    end: datetime | None = None,
    zone: tzinfo = UTC,
    table_name: str = "cel",
    inbound_prefixes: tuple[str, ...] = INBOUND_CONTEXT_PREFIXES,
) -> Iterator[CelCall]:
    """Yield the calls that started in ``[start, end)``, classified from the CEL table."""
    events = read_db_cel_events(connection, start, end, zone, table_name)
    for call in group_cel(events, inbound_prefixes, complete_only=start is not None):
        if end is None or call.started_at < end:
            yield call
