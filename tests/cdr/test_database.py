"""The ``asteriskcdrdb`` reader on a FreePBX-shaped ``cdr`` table: SQLite and real MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from asterisk_textback.cdr.csvfile import read_calls, read_rows
from asterisk_textback.cdr.database import read_db_calls
from asterisk_textback.cdr.model import CdrOutcome
from tests.cdr.test_csvfile import EXPECTED, MASTER

CREATE = """
CREATE TABLE cdr (
  calldate DATETIME NOT NULL, clid VARCHAR(80) NOT NULL DEFAULT '',
  src VARCHAR(80) NOT NULL DEFAULT '', dst VARCHAR(80) NOT NULL DEFAULT '',
  dcontext VARCHAR(80) NOT NULL DEFAULT '', channel VARCHAR(80) NOT NULL DEFAULT '',
  dstchannel VARCHAR(80) NOT NULL DEFAULT '', lastapp VARCHAR(80) NOT NULL DEFAULT '',
  lastdata VARCHAR(80) NOT NULL DEFAULT '', duration INTEGER NOT NULL DEFAULT 0,
  billsec INTEGER NOT NULL DEFAULT 0, disposition VARCHAR(45) NOT NULL DEFAULT '',
  amaflags INTEGER NOT NULL DEFAULT 0, accountcode VARCHAR(20) NOT NULL DEFAULT '',
  uniqueid VARCHAR(32) NOT NULL DEFAULT '', userfield VARCHAR(255) NOT NULL DEFAULT '',
  did VARCHAR(50) NOT NULL DEFAULT '', linkedid VARCHAR(32) NOT NULL DEFAULT '',
  sequence INTEGER NOT NULL DEFAULT 0
)
"""
INSERT = text(
    "INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, "
    "lastdata, duration, billsec, disposition, uniqueid, did, linkedid, sequence) VALUES "
    "(:calldate, :clid, :src, :dst, :dcontext, :channel, :dstchannel, :lastapp, :lastdata, "
    ":duration, :billsec, :disposition, :uniqueid, :did, :linkedid, :sequence)"
)


def _load(engine: Engine) -> None:
    """The Master.csv rows as FreePBX stores them (calldate = start, linkedid, DID)."""
    rows = [
        {
            "calldate": row.start.strftime("%Y-%m-%d %H:%M:%S"),  # as SQL text: no adapter
            "clid": row.clid,
            "src": row.src,
            "dst": row.dst,
            "dcontext": row.dcontext,
            "channel": row.channel,
            "dstchannel": row.dstchannel,
            "lastapp": row.lastapp,
            "lastdata": row.lastdata,
            "duration": row.duration,
            "billsec": row.billsec,
            "disposition": row.disposition,
            "uniqueid": row.uniqueid,
            "did": row.dst if row.dcontext == "from-trunk" else "",
            "linkedid": row.uniqueid,
            "sequence": index,
        }
        for index, row in enumerate(read_rows(MASTER))
    ]
    with engine.begin() as connection:
        connection.execute(text(CREATE))
        connection.execute(INSERT, rows)


def _check(url: str) -> None:
    calls = read_db_calls(url)
    assert [(c.caller, c.did, c.outcome, c.reached_voicemail) for c in calls] == EXPECTED
    assert [c.key for c in calls] == [c.key for c in read_calls(MASTER)]
    window = read_db_calls(
        url,
        start=datetime(2026, 11, 27, 5, 41, 32, tzinfo=UTC),
        end=datetime(2026, 11, 27, 5, 42, 9, tzinfo=UTC),
    )
    assert [(c.caller, c.outcome) for c in window] == [
        ("4155550199", CdrOutcome.ANSWERED),
        ("7135550111", CdrOutcome.MISSED),
        ("7135550111", CdrOutcome.MISSED),
        ("2065550142", CdrOutcome.MISSED),
    ]


def test_sqlite_cdr_table(tmp_path: Path) -> None:
    """Any SQLAlchemy database with the cdr columns works (here SQLite)."""
    url = f"sqlite:///{tmp_path / 'cdr.db'}"
    engine = create_engine(url, poolclass=NullPool)
    _load(engine)
    engine.dispose()
    _check(url)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    """A table that is not a CDR table is refused with the missing columns."""
    url = f"sqlite:///{tmp_path / 'other.db'}"
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE cdr (calldate DATETIME, src TEXT)"))
    engine.dispose()
    with pytest.raises(ValueError, match="lacks CDR columns: clid"):
        read_db_calls(url)


def test_mariadb_asteriskcdrdb(mariadb_url: str) -> None:
    """The real MariaDB through PyMySQL, in a read-only session."""
    engine = create_engine(mariadb_url, poolclass=NullPool)
    _load(engine)
    engine.dispose()
    _check(mariadb_url)


def test_mariadb_session_is_read_only(mariadb_url: str) -> None:
    """The reader's session refuses writes."""
    from asterisk_textback.cdr.database import open_cdr_engine, read_db_rows

    engine = create_engine(mariadb_url, poolclass=NullPool)
    _load(engine)
    engine.dispose()
    reader = open_cdr_engine(mariadb_url)
    try:
        with reader.connect() as connection:
            assert len(list(read_db_rows(connection))) == 34
            connection.rollback()
            with pytest.raises(OperationalError, match="READ ONLY"):
                connection.execute(text("DELETE FROM cdr"))
    finally:
        reader.dispose()
