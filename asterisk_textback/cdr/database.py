"""Read calls from a CDR database (FreePBX ``asteriskcdrdb.cdr``), read-only.

Uses a synchronous SQLAlchemy engine (``mysql+pymysql://user:pw@host/asteriskcdrdb`` for
FreePBX's MariaDB; any SQLAlchemy URL whose table has the ``cdr_adaptive_odbc`` columns
works): call it from a thread in async code. The session is set read-only where the server
supports it and nothing is ever committed. ``calldate`` is the row's start in the PBX's
local time (FreePBX default): pass the zone. Rows are grouped by ``linkedid`` when the table
has it (FreePBX does), else by ``uniqueid``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from typing import Final

from sqlalchemy import Column, MetaData, Table, create_engine, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from asterisk_textback.cdr.model import INBOUND_CONTEXT_PREFIXES, CdrCall, CdrRow, group_calls

__all__ = [
    "CDR_COLUMNS",
    "aware_time",
    "naive_local",
    "open_cdr_engine",
    "read_db_calls",
    "read_db_rows",
    "set_read_only",
]

#: Columns every ``cdr`` table has; ``linkedid``, ``did`` and ``sequence`` are optional.
CDR_COLUMNS: Final = (
    "calldate",
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "duration",
    "billsec",
    "disposition",
    "uniqueid",
)
_OPTIONAL: Final = ("linkedid", "did", "sequence")
_BATCH: Final = 2000


def open_cdr_engine(url: str) -> Engine:
    """A synchronous engine for a CDR database URL (no pool kept between uses)."""
    return create_engine(url, poolclass=NullPool)


def set_read_only(connection: Connection) -> None:
    """Make the session refuse writes (MySQL/MariaDB, PostgreSQL)."""
    # A report must never be able to change the PBX's billing history.
    if connection.dialect.name in ("mysql", "mariadb"):
        connection.execute(text("SET SESSION TRANSACTION READ ONLY"))
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"))


def aware_time(value: object, zone: tzinfo) -> datetime:
    """A database timestamp (naive local wall time, or text) as an aware UTC datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise TypeError(f"{value!r} is not a timestamp")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def naive_local(moment: datetime, zone: tzinfo) -> str:
    """``moment`` as the naive local text CDR/CEL tables store and compare."""
    # CDR backends store local wall time without a zone; this text form compares correctly
    # with MySQL/MariaDB DATETIME, PostgreSQL timestamps and SQLite's text timestamps alike.
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def read_db_rows(
    connection: Connection,
    start: datetime | None = None,
    end: datetime | None = None,
    zone: tzinfo = UTC,
    table_name: str = "cdr",
) -> Iterator[CdrRow]:
    """Yield CDR rows with ``start <= calldate < end`` in time order."""
    set_read_only(connection)
    present = {c["name"].lower() for c in inspect(connection).get_columns(table_name)}
    missing = [name for name in CDR_COLUMNS if name not in present]
    if missing:
        raise ValueError(f"table {table_name!r} lacks CDR columns: {', '.join(missing)}")
    names = [*CDR_COLUMNS, *(name for name in _OPTIONAL if name in present)]
    table = Table(table_name, MetaData(), *(Column(name) for name in names))
    query = select(table)
    if start is not None:
        query = query.where(table.c.calldate >= naive_local(start, zone))
    if end is not None:
        query = query.where(table.c.calldate < naive_local(end, zone))
    order = [table.c.calldate, table.c.sequence] if "sequence" in present else [table.c.calldate]
    result = connection.execution_options(stream_results=True, yield_per=_BATCH).execute(
        query.order_by(*order)
    )
    for row in result.mappings():
        yield CdrRow(
            src=str(row["src"] or ""),
            dst=str(row["dst"] or ""),
            dcontext=str(row["dcontext"] or ""),
            clid=str(row["clid"] or ""),
            channel=str(row["channel"] or ""),
            dstchannel=str(row["dstchannel"] or ""),
            lastapp=str(row["lastapp"] or ""),
            lastdata=str(row["lastdata"] or ""),
            start=aware_time(row["calldate"], zone),
            answer=None,
            end=None,
            duration=int(row["duration"] or 0),
            billsec=int(row["billsec"] or 0),
            disposition=str(row["disposition"] or ""),
            uniqueid=str(row["uniqueid"] or ""),
            linkedid=str(row.get("linkedid") or ""),
            did=str(row.get("did") or ""),
        )


def read_db_calls(
    url: str,
    start: datetime | None = None,
    end: datetime | None = None,
    zone: tzinfo = UTC,
    table_name: str = "cdr",
    inbound_prefixes: tuple[str, ...] = INBOUND_CONTEXT_PREFIXES,
) -> list[CdrCall]:
    """Every call of a CDR database in ``[start, end)``, grouped and classified."""
    engine = open_cdr_engine(url)
    try:
        with engine.connect() as connection:
            rows = read_db_rows(connection, start, end, zone, table_name)
            calls = list(group_calls(rows, inbound_prefixes))
            connection.rollback()
            return calls
    finally:
        engine.dispose()
