"""The ``asteriskcdrdb.cel`` reader and CEL+CDR history from one database: SQLite and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from asterisk_textback.cdr.celcsv import read_cel_calls, read_cel_events
from asterisk_textback.cdr.celdb import read_db_cel_events
from asterisk_textback.cdr.database import open_cdr_engine
from asterisk_textback.cdr.history import HistorySources, iter_db_history
from asterisk_textback.cdr.model import ClassifiedCall
from asterisk_textback.cdr.summary import summarize
from tests.cdr.test_cel import CEL
from tests.cdr.test_database import _load as load_cdr

#: FreePBX's ``cel`` table as ``cel_odbc`` fills it (Asterisk 12+ column names).
CREATE = """
CREATE TABLE cel (
  id INTEGER NOT NULL PRIMARY KEY {autoincrement},
  eventtype VARCHAR(30) NOT NULL, eventtime DATETIME NOT NULL,
  cid_name VARCHAR(80) NOT NULL DEFAULT '', cid_num VARCHAR(80) NOT NULL DEFAULT '',
  cid_ani VARCHAR(80) NOT NULL DEFAULT '', cid_rdnis VARCHAR(80) NOT NULL DEFAULT '',
  cid_dnid VARCHAR(80) NOT NULL DEFAULT '', exten VARCHAR(80) NOT NULL DEFAULT '',
  context VARCHAR(80) NOT NULL DEFAULT '', channame VARCHAR(80) NOT NULL DEFAULT '',
  appname VARCHAR(80) NOT NULL DEFAULT '', appdata VARCHAR(255) NOT NULL DEFAULT '',
  amaflags INTEGER NOT NULL DEFAULT 0, accountcode VARCHAR(20) NOT NULL DEFAULT '',
  peeraccount VARCHAR(20) NOT NULL DEFAULT '', uniqueid VARCHAR(150) NOT NULL DEFAULT '',
  linkedid VARCHAR(150) NOT NULL DEFAULT '', userfield VARCHAR(255) NOT NULL DEFAULT '',
  peer VARCHAR(80) NOT NULL DEFAULT '', extra VARCHAR(512) NOT NULL DEFAULT ''
)
"""
INSERT = text(
    "INSERT INTO cel (eventtype, eventtime, cid_name, cid_num, cid_dnid, exten, context, "
    "channame, appname, appdata, uniqueid, linkedid, peer, extra) VALUES (:eventtype, "
    ":eventtime, :cid_name, :cid_num, :cid_dnid, :exten, :context, :channame, :appname, "
    ":appdata, :uniqueid, :linkedid, :peer, :extra)"
)
#: 05:13 to 05:17 UTC holds 11 of the traced calls; the CDR recording starts at 05:40.
EARLY = (datetime(2026, 11, 27, 5, 13, tzinfo=UTC), datetime(2026, 11, 27, 5, 17, tzinfo=UTC))
LATE = (datetime(2026, 11, 27, 5, 40, tzinfo=UTC), datetime(2026, 11, 27, 5, 45, tzinfo=UTC))


def _load(engine: Engine, with_cel: bool = True) -> None:
    """The real CDR rows, and the CEL fixture as FreePBX stores it (whole-second times)."""
    load_cdr(engine)
    if not with_cel:
        return
    rows = [
        {
            "eventtype": e.eventtype,
            "eventtime": e.eventtime.strftime("%Y-%m-%d %H:%M:%S"),
            "cid_name": e.cid_name,
            "cid_num": e.cid_num,
            "cid_dnid": e.cid_dnid,
            "exten": e.exten,
            "context": e.context,
            "channame": e.channame,
            "appname": e.appname,
            "appdata": e.appdata,
            "uniqueid": e.uniqueid,
            "linkedid": e.linkedid,
            "peer": e.peer,
            "extra": e.extra,
        }
        for e in read_cel_events(CEL)
    ]
    auto = "AUTO_INCREMENT" if engine.dialect.name in ("mysql", "mariadb") else "AUTOINCREMENT"
    with engine.begin() as connection:
        connection.execute(text(CREATE.format(autoincrement=auto)))
        connection.execute(INSERT, rows)


def _history(
    url: str, window: tuple[datetime, datetime] | None = None, cel_table: str | None = "cel"
) -> tuple[list[ClassifiedCall], HistorySources]:
    sources = HistorySources()
    start, end = window if window is not None else (None, None)
    calls = list(iter_db_history(url, start, end, cel_table=cel_table, sources=sources))
    return calls, sources


def _check(url: str) -> None:
    calls, sources = _history(url)
    assert (sources.cel_available, sources.cel_calls, sources.cdr_calls) == (True, 15, 15)
    # The file is in manifest order, the table in time order: compare call by call.
    from_file = {c.key: (c.outcome, c.reason, c.mailbox) for c in read_cel_calls(CEL)}
    from_db = {c.key: (c.outcome, c.reason, getattr(c, "mailbox", None)) for c in calls[:15]}
    assert from_db == from_file
    assert summarize(calls).by_source == {"cel": 15, "cdr": 15}

    calls, sources = _history(url, EARLY)
    want = [c.key for c in read_cel_calls(CEL) if EARLY[0] <= c.started_at < EARLY[1]]
    assert sorted(c.key for c in calls) == sorted(want)
    assert len(want) == 11
    assert sources.describe() == "classified from CEL (11 calls), CDR used for 0"

    calls, sources = _history(url, LATE)  # CEL has nothing then: CDR alone
    assert not sources.cel_available
    assert (len(calls), sources.cdr_calls) == (15, 15)
    assert sources.describe() == "classified from CDR (15 calls); no CEL for this period"

    calls, sources = _history(url, cel_table=None)
    assert (sources.cel_calls, sources.cdr_calls) == (0, 15)


def test_sqlite_cel_and_cdr(tmp_path: Path) -> None:
    """Any SQLAlchemy database with FreePBX's tables works (here SQLite)."""
    url = f"sqlite:///{tmp_path / 'asteriskcdrdb.db'}"
    engine = create_engine(url, poolclass=NullPool)
    _load(engine)
    engine.dispose()
    _check(url)


def test_without_a_cel_table_cdr_is_used(tmp_path: Path) -> None:
    """No cel table (CEL never enabled): the report is CDR's, and says so."""
    url = f"sqlite:///{tmp_path / 'cdronly.db'}"
    engine = create_engine(url, poolclass=NullPool)
    _load(engine, with_cel=False)
    engine.dispose()
    calls, sources = _history(url)
    assert (sources.cel_available, len(calls), sources.cdr_calls) == (False, 15, 15)


def test_a_call_begun_before_the_window_is_left_out(tmp_path: Path) -> None:
    """A window opening mid-call does not classify the call's tail as a call."""
    url = f"sqlite:///{tmp_path / 'mid.db'}"
    engine = create_engine(url, poolclass=NullPool)
    _load(engine)
    engine.dispose()
    start = datetime(2026, 11, 27, 5, 14, 23, tzinfo=UTC)  # direct-answered rings at 05:14:22
    calls, _ = _history(url, (start, EARLY[1]))
    assert "1795756462.8" not in [c.key for c in calls]
    assert len(calls) == 8


def test_mariadb_cel_and_cdr(mariadb_url: str) -> None:
    """The real MariaDB through PyMySQL: whole-second eventtimes, ordered by id."""
    engine = create_engine(mariadb_url, poolclass=NullPool)
    _load(engine)
    engine.dispose()
    _check(mariadb_url)


def test_mariadb_cel_session_is_read_only(mariadb_url: str) -> None:
    """The CEL reader's session refuses writes too."""
    engine = create_engine(mariadb_url, poolclass=NullPool)
    _load(engine)
    engine.dispose()
    reader = open_cdr_engine(mariadb_url)
    try:
        with reader.connect() as connection:
            assert len(list(read_db_cel_events(connection))) == len(list(read_cel_events(CEL)))
            connection.rollback()
            with pytest.raises(OperationalError, match="READ ONLY"):
                connection.execute(text("DELETE FROM cel"))
    finally:
        reader.dispose()
