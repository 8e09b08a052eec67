"""Rate caps under a flood of simultaneous missed calls: never one text over the cap.

Issue 13 #1: with the example caps (60/min overall, 10/min per prefix) 50 calls from one
prefix within a second got 35 texts, and 120 calls over 60 prefixes got 120. Here every
call of a flood is submitted at once, to the recorder's lanes (and, on PostgreSQL, to two
service instances sharing the database); the outbox must hold exactly the cap's worth of
texts due in the first minute, and at most the cap in any 60 s after it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.models import Call, Message
from tests.security.support import (
    T0,
    Clock,
    Sessions,
    record_together,
    recorder,
    settings,
    spread,
    textbacks,
)

START = datetime.fromtimestamp(T0, tz=UTC)
MINUTE = timedelta(seconds=60)


def _due_in_first_minute(texts: list[Message]) -> int:
    return sum(1 for m in texts if m.send_at < START + MINUTE)


def _most_in_any_minute(texts: list[Message], prefix: str | None = None) -> int:
    times = sorted(m.send_at for m in texts if prefix is None or m.to_e164.startswith(prefix))
    most = 0
    for i, at in enumerate(times):
        most = max(most, sum(1 for later in times[i:] if later < at + MINUTE))
    return most


@pytest.mark.parametrize(
    ("calls", "prefixes", "cap"),
    [(50, 1, 10), (120, 60, 60), (300, 60, 60)],
    ids=["50-one-prefix", "120-over-60-prefixes", "300-over-60-prefixes"],
)
async def test_simultaneous_calls_get_exactly_the_cap(
    session_factory: Sessions, calls: int, prefixes: int, cap: int
) -> None:
    flood = spread(calls, prefixes)
    await record_together([recorder(session_factory, Clock(), settings())], flood)
    texts = await textbacks(session_factory)
    assert _due_in_first_minute(texts) == cap
    assert _most_in_any_minute(texts) <= 60
    for code in {m.to_e164[:5] for m in texts}:
        assert _most_in_any_minute(texts, code) <= 10
    # The rest wait for the next free slots (all within max_age_minutes = 60 here).
    assert len(texts) == calls
    assert all(m.send_at <= m.expires_at for m in texts)


async def test_two_instances_on_one_postgresql_share_the_caps(
    backend: str, db_url: str, session_factory: Sessions
) -> None:
    if backend != "postgresql":
        pytest.skip("two service instances share a database only on PostgreSQL")
    other = create_engine(db_url)
    try:
        instances = [
            recorder(session_factory, Clock(), settings()),
            recorder(create_session_factory(other), Clock(), settings()),
        ]
        await record_together(instances, spread(120, 60))
        texts = await textbacks(session_factory)
        assert _due_in_first_minute(texts) == 60
        assert _most_in_any_minute(texts) <= 60

        await _truncate(session_factory)
        await record_together(instances, spread(50, 1))
        texts = await textbacks(session_factory)
        assert _due_in_first_minute(texts) == 10
        assert _most_in_any_minute(texts) <= 10
    finally:
        await other.dispose()


async def _truncate(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await session.execute(Message.__table__.delete())  # type: ignore[arg-type]
        await session.execute(Call.__table__.delete())  # type: ignore[arg-type]


async def test_over_cap_drop_refuses_with_the_caps_reason(session_factory: Sessions) -> None:
    flood = spread(50, 1)
    config = settings(over_cap="drop")
    await record_together([recorder(session_factory, Clock(), config)], flood)
    texts = await textbacks(session_factory)
    assert len(texts) == 10
    async with session_factory() as session:
        reasons = (await session.scalars(select(Call.suppress_reason))).all()
    assert sorted(r for r in reasons if r) == ["rate_limited_prefix"] * 40


async def test_a_held_text_past_max_age_is_refused_with_its_reason(
    session_factory: Sessions,
) -> None:
    # 5 minutes of waiting room at 10 a minute: slots now, +60, … +240 s (+300 s expires).
    await record_together(
        [recorder(session_factory, Clock(), settings(max_age_minutes=5))], spread(80, 1)
    )
    texts = await textbacks(session_factory)
    assert len(texts) == 50
    assert max(m.send_at for m in texts) == START + timedelta(seconds=240)
    async with session_factory() as session:
        refused = (
            await session.scalars(select(Call.suppress_reason).where(Call.action == "suppress"))
        ).all()
    assert list(refused) == ["rate_limited_prefix"] * 30
