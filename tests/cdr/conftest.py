"""Fixtures for the CDR/CEL readers: a throwaway database on the local MariaDB."""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

MARIADB = os.environ.get("TEXTBACK_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A throwaway database on the local MariaDB, dropped afterwards."""
    if importlib.util.find_spec("pymysql") is None:
        pytest.fail("PyMySQL is not installed: pip install -e '.[test]'", pytrace=False)
    server = make_url(MARIADB)
    admin = create_engine(server, poolclass=NullPool)
    name = f"textback_cdr_{secrets.token_hex(4)}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE DATABASE `{name}`"))
    except OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"MariaDB is not reachable at {MARIADB} ({exc.orig}); the FreePBX asteriskcdrdb "
            "reader is tested against it: start it (.ci/run does)",
            pytrace=False,
        )
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
