"""Rate caps under a flood of simultaneous missed calls: never one text over the cap.

Issue 13 #1: with the example caps (60/min overall, 10/min per prefix) 50 calls from one
prefix within a second got 35 texts, and 120 calls over 60 prefixes got 120. Here every
call of a flood is submitted at once, to the recorder's lanes (and, on PostgreSQL, to two
service instances sharing the database); the outbox must hold exactly the cap's worth of
texts due in the first minute, and at most the cap in any 60 s after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import select

from asterisk_textback.agi.request import TextRequest
from asterisk_textback.agi.texter import AgiTexter
from asterisk_textback.outbox.dispatcher import Dispatcher
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.sms.settings import ProviderSettings, WebhookSettings
from asterisk_textback.sms.vendors.webhook import WebhookProvider
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.models import Call, Message
from asterisk_textback.textback.loading import prepare
from tests.app.fakes import fake_gateway
from tests.security.support import (
    T0,
    Clock,
    Sessions,
    missed,
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


@pytest.mark.parametrize(
    ("calls", "prefixes", "cap"),
    [(50, 1, 10), (120, 60, 60), (300, 60, 60)],
    ids=["50-one-prefix", "120-over-60-prefixes", "300-over-60-prefixes"],
)
async def test_two_instances_on_one_database_share_the_caps(
    db_url: str, session_factory: Sessions, calls: int, prefixes: int, cap: int
) -> None:
    # Two engines on one database: on PostgreSQL two service instances (the scale-out
    # store); on SQLite two processes' connections to one file.
    other = create_engine(db_url)
    try:
        instances = [
            recorder(session_factory, Clock(), settings()),
            recorder(create_session_factory(other), Clock(), settings()),
        ]
        await record_together(instances, spread(calls, prefixes))
        texts = await textbacks(session_factory)
        assert _due_in_first_minute(texts) == cap
        assert _most_in_any_minute(texts) <= 60
        for code in {m.to_e164[:5] for m in texts}:
            assert _most_in_any_minute(texts, code) <= 10
        assert len(texts) == calls
    finally:
        await other.dispose()


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


async def test_the_dispatcher_sends_the_cap_then_the_held_texts_a_minute_later(
    session_factory: Sessions,
) -> None:
    clock = Clock()
    await record_together([recorder(session_factory, clock, settings())], spread(50, 1))
    hook = WebhookSettings.model_validate({"url": "http://127.0.0.1:9/unused"})
    async with fake_gateway() as gateway, aiohttp.ClientSession() as http:
        hook = hook.model_copy(update={"url": gateway.url})
        dispatcher = Dispatcher(
            session_factory,
            WebhookProvider(hook, http, None),
            DispatchSettings(workers=2, batch_size=20, poll_seconds=0.02),
            ProviderSettings(rate_per_second=1000.0),
            clock=clock,
        )
        task = asyncio.create_task(dispatcher.run())
        try:
            for minute in range(1, 6):
                # Within each minute exactly the cap goes out, however long we wait.
                await _until(lambda m=minute: len(gateway.requests) >= 10 * m)
                await asyncio.sleep(0.3)
                assert len(gateway.requests) == 10 * minute
                clock.now += 60
        finally:
            dispatcher.stop()
            await task
    assert len({r["to"] for r in gateway.requests}) == 50


async def _until(done: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if done():
                return
            await asyncio.sleep(0.02)


async def test_one_number_calling_four_instances_gets_the_daily_cap(
    backend: str, db_url: str, session_factory: Sessions
) -> None:
    engines = [create_engine(db_url) for _ in range(3)] if backend == "postgresql" else []
    sessions = [session_factory, *(create_session_factory(e) for e in engines)]
    try:
        config = settings(cooldown_hours=0, daily_cap=3)
        instances = [recorder(sessions[i % len(sessions)], Clock(), config) for i in range(4)]
        calls = [missed("2125550147", f"same-{i}") for i in range(16)]
        await record_together(instances, calls)
        assert len(await textbacks(session_factory)) == 3
    finally:
        for extra in engines:
            await extra.dispose()


async def test_dialplan_requests_and_missed_calls_share_the_caps(
    session_factory: Sessions,
) -> None:
    config = settings()
    clock = Clock()
    texter = AgiTexter(prepare(config), session_factory, on_queued=lambda: None, clock=clock)
    flood = spread(40, 1)
    requests = [
        TextRequest(
            "textback", "missed_no_voicemail", f"agi-{i}", "PJSIP/x", c.caller_number, "", "", 0
        )
        for i, c in enumerate(flood[20:])
    ]
    await asyncio.gather(
        record_together([recorder(session_factory, clock, config)], flood[:20]),
        *(texter.text(r) for r in requests),
    )
    async with session_factory() as session:
        texts = list((await session.scalars(select(Message))).all())
    assert {m.kind for m in texts} == {"textback", "agi"}
    assert _due_in_first_minute(texts) == 10
    assert _most_in_any_minute(texts) <= 10
