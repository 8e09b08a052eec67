"""Two tenants in one install (one PostgreSQL database, or two SQLite files): what one writes,
the other cannot see, count or be suppressed by, also when both are written at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.errors import ConfigError
from asterisk_textback.policy.decision import Action, SuppressReason
from asterisk_textback.store import contacts
from asterisk_textback.store.calls import CallDecision, get_call, record_call_and_enqueue
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.models import Call, Message
from asterisk_textback.store.outbox import enqueue
from asterisk_textback.store.schema import upgrade
from asterisk_textback.store.tenant_ids import SHARED_START
from asterisk_textback.store.tenant_scope import scoped_engine, tenant_url
from asterisk_textback.store.uow import reading, unit_of_work
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

CALLER = "2125550147"
E164 = "+12125550147"
NOW = datetime.fromtimestamp(T0, tz=UTC)


@dataclass
class Pair:
    """Tenants ``a`` and ``b``: their engines and session factories."""

    backend: str
    engine_a: AsyncEngine
    engine_b: AsyncEngine
    a: Sessions
    b: Sessions


@pytest.fixture
async def pair(backend: str, empty_url: str) -> AsyncIterator[Pair]:
    """Tenants a and b migrated beside a migrated default tenant (PostgreSQL: one engine,
    one pool, as ``run`` shares it; SQLite: one file each)."""
    for tenant in ("default", "a", "b"):
        await upgrade(empty_url, tenant=tenant)
    if backend == "postgresql":
        shared = create_engine(empty_url)
        engines = [shared]
        engine_a, engine_b = scoped_engine(shared, "a"), scoped_engine(shared, "b")
    else:
        engine_a = create_engine(tenant_url(empty_url, "a"))
        engine_b = create_engine(tenant_url(empty_url, "b"))
        engines = [engine_a, engine_b]
    try:
        yield Pair(
            backend,
            engine_a,
            engine_b,
            create_session_factory(engine_a),
            create_session_factory(engine_b),
        )
    finally:
        for engine in engines:
            await engine.dispose()


async def _counts(sessions: Sessions) -> dict[str, int]:
    tables = ("calls", "messages", "contacts", "consent_events", "call_hours")
    async with reading(sessions) as session:
        return {
            t: int(await session.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in tables
        }


async def _linkedids(sessions: Sessions) -> set[str]:
    async with reading(sessions) as session:
        return set((await session.scalars(select(Call.linkedid))).all())


async def test_rows_written_through_a_are_invisible_through_b(
    pair: Pair, make_call: object, make_message: object
) -> None:
    call = missed(CALLER, "iso-1")
    async with unit_of_work(pair.a) as session:
        recorded = await record_call_and_enqueue(
            session,
            call,
            CallDecision(action=Action.SEND),
            make_message(),  # type: ignore[operator]
            caller_e164=E164,
            now=NOW,
        )
        await enqueue(session, make_message(template="agi"), key="k-1", now=NOW)  # type: ignore[operator]
        await contacts.opt_out(session, E164, now=NOW, source="sms:STOP")
    assert recorded.message is not None
    assert await _counts(pair.a) == {
        "calls": 1, "messages": 2, "contacts": 1, "consent_events": 1, "call_hours": 1,
    }  # fmt: skip
    assert await _counts(pair.b) == dict.fromkeys(await _counts(pair.b), 0)
    async with reading(pair.b) as session:
        assert await get_call(session, call.pbx, call.linkedid) is None
        assert await contacts.get_contact(session, E164) is None
        assert await session.get(Call, recorded.call.id) is None or pair.backend == "sqlite"
        assert await contacts.last_texted_at(session, E164) is None
    async with reading(pair.a) as session:
        assert (await contacts.get_contact(session, E164)) is not None


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_ids_of_b_are_never_ids_of_a(pair: Pair) -> None:
    ids: dict[str, list[int]] = {"a": [], "b": []}
    for n in range(5):
        for name, sessions in (("a", pair.a), ("b", pair.b)):
            async with unit_of_work(sessions) as session:
                call = missed(CALLER, f"ids-{name}-{n}")
                rec = await record_call_and_enqueue(
                    session, call, CallDecision(action=Action.SUPPRESS), caller_e164=E164, now=NOW
                )
                ids[name].append(rec.call.id)
    assert min(ids["a"] + ids["b"]) >= SHARED_START
    assert not set(ids["a"]) & set(ids["b"])
    async with reading(pair.a) as session:
        for other in ids["b"]:
            assert await session.get(Call, other) is None


async def test_unqualified_sql_through_a_reads_a_only(pair: Pair) -> None:
    async with unit_of_work(pair.b) as session:
        await record_call_and_enqueue(
            session,
            missed(CALLER, "sql-b"),
            CallDecision(action=Action.SUPPRESS),
            caller_e164=E164,
            now=NOW,
        )
    async with reading(pair.a) as session:
        assert await session.scalar(text("SELECT count(*) FROM calls")) == 0
        assert await session.scalar(select(func.count()).select_from(Call)) == 0
    if pair.backend == "postgresql":
        # The search path is the tenant's schema alone: not even public is searched.
        async with unit_of_work(pair.a) as session:
            await session.execute(text("CREATE TABLE public.only_public (x int)"))
        with pytest.raises(ConfigError, match="has no table only_public"):
            async with reading(pair.a) as session:
                await session.execute(text("SELECT x FROM only_public"))


async def test_an_opt_out_at_a_leaves_the_caller_textable_at_b(pair: Pair) -> None:
    async with unit_of_work(pair.a) as session:
        await contacts.opt_out(session, E164, now=NOW, source="sms:STOP")
    config = settings()
    at_a = await recorder(pair.a, Clock(), config).record(missed(CALLER, "stop-a"))
    at_b = await recorder(pair.b, Clock(), config).record(missed(CALLER, "stop-b"))
    assert (at_a.queued, at_a.decision.reason) == (False, SuppressReason.OPTED_OUT)
    assert (at_b.queued, at_b.decision.reason) == (True, None)
    async with reading(pair.b) as session:
        assert (await session.scalars(select(Message.to_e164))).all() == [E164]


async def test_a_cooldown_at_a_does_not_suppress_b(pair: Pair) -> None:
    config = settings()  # cooldown 24 h
    first_a = await recorder(pair.a, Clock(), config).record(missed(CALLER, "cd-a1"))
    again_a = await recorder(pair.a, Clock(T0 + 60), config).record(
        missed(CALLER, "cd-a2", T0 + 60)
    )
    at_b = await recorder(pair.b, Clock(T0 + 60), config).record(missed(CALLER, "cd-b1", T0 + 60))
    assert first_a.queued
    assert (again_a.queued, again_a.decision.reason) == (False, SuppressReason.COOLDOWN)
    assert at_b.queued


async def test_each_tenants_daily_cap_holds_exactly_under_concurrent_calls(pair: Pair) -> None:
    # 16 calls from one caller to each tenant, all at once, over two recorders per tenant.
    config = settings(cooldown_hours=0, daily_cap=3)
    lanes = {
        name: [recorder(sessions, Clock(), config) for _ in range(2)]
        for name, sessions in (("a", pair.a), ("b", pair.b))
    }
    calls = {name: [missed(CALLER, f"cap-{name}-{i}") for i in range(16)] for name in lanes}
    await asyncio.gather(*(record_together(lanes[name], calls[name]) for name in lanes))
    for name, sessions in (("a", pair.a), ("b", pair.b)):
        assert len(await textbacks(sessions)) == 3
        assert await _linkedids(sessions) == {c.linkedid for c in calls[name]}


async def test_each_tenants_rate_cap_holds_exactly_under_a_concurrent_flood(pair: Pair) -> None:
    # The same 50 callers of one prefix call both tenants at once: 10 a minute each.
    config = settings()
    flood = {"a": spread(50, 1)}
    flood["b"] = [replace(c, linkedid=f"b-{c.linkedid}") for c in flood["a"]]
    await asyncio.gather(
        record_together([recorder(pair.a, Clock(), config)], flood["a"]),
        record_together([recorder(pair.b, Clock(), config)], flood["b"]),
    )
    for name, sessions in (("a", pair.a), ("b", pair.b)):
        assert await _linkedids(sessions) == {c.linkedid for c in flood[name]}
        texts = await textbacks(sessions)
        assert len(texts) == 50
        first_minute = [m for m in texts if (m.send_at - NOW).total_seconds() < 60]
        assert len(first_minute) == 10


async def test_the_triggers_fill_a_call_hours_only(pair: Pair) -> None:
    await recorder(pair.a, Clock(), settings()).record(missed(CALLER, "hours-a"))
    async with reading(pair.a) as session:
        a_hours = await session.scalar(text("SELECT sum(calls) FROM call_hours"))
        queued = await session.scalar(select(Message.to_e164))
    assert (a_hours, queued) == (1, E164)
    assert (await _counts(pair.b))["call_hours"] == 0
