"""Storage fixtures: every test runs on SQLite (a temp file) and on the local PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.store.outbox import NewMessage
from tests.dbfixtures import (  # noqa: F401 - fixtures are found by name
    TABLES,
    PgServer,
    backend,
    db_url,
    empty_url,
    engine,
    pg_migrated,
    pg_server,
    session,
    session_factory,
    sqlite_migrated,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    """The tests' fixed "now" (the default ``send_at`` of :func:`make_message`)."""
    return NOW


@pytest.fixture
def make_call() -> Callable[..., CallEnded]:
    """Build a missed inbound ``CallEnded``; keyword arguments override fields."""

    def make(**overrides: Any) -> CallEnded:
        ended = overrides.pop("ended", NOW - timedelta(minutes=1))
        fields: dict[str, Any] = {
            "linkedid": "1700000000.1",
            "direction": Direction.INBOUND,
            "outcome": Outcome.MISSED_VOICEMAIL,
            "reason": Reason.NO_ANSWER,
            "caller_number": "2125550147",
            "caller_name": "Ana Souza",
            "did": "5550100",
            "queue": None,
            "mailbox": "100",
            "started_at": ended.timestamp() - 30,
            "ended_at": ended.timestamp(),
            "ring_seconds": 25.0,
        }
        fields.update(overrides)
        return CallEnded(**fields)

    return make


@pytest.fixture
def make_message() -> Callable[..., NewMessage]:
    """Build a ``NewMessage`` to +12125550147 due at NOW; keyword arguments override fields."""

    def make(**overrides: Any) -> NewMessage:
        fields: dict[str, Any] = {
            "to_e164": "+12125550147",
            "sender": "+15550100",
            "body": "Sorry we missed your call! Reply here or book: https://example.test/b",
            "segments": 1,
            "encoding": "GSM-7",
            "send_at": NOW,
            "expires_at": NOW + timedelta(hours=2),
            "template": "missed_voicemail",
            "variant": "a",
        }
        fields.update(overrides)
        return NewMessage(**fields)

    return make
