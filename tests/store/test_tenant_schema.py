"""A tenant's schema: migrated into its own PostgreSQL schema or SQLite file, checked through
its scoped engine, round-tripped with its triggers, its ids drawn from the shared range."""

from __future__ import annotations

import asyncio
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.store.engine import create_engine
from asterisk_textback.store.models import Base
from asterisk_textback.store.schema import (
    DatabaseUnreadableError,
    SchemaOutdatedError,
    check_schema,
    check_schema_readable,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from asterisk_textback.store.tenant_ids import SHARED_START, NarrowIdError
from asterisk_textback.store.tenant_scope import scoped_engine, tenant_url

TRIGGERS_PG = text(
    "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = :schema AND NOT t.tgisinternal ORDER BY 1"
)
FUNCTIONS_PG = text(
    "SELECT p.proname, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE n.nspname = :schema ORDER BY 1"
)
TRIGGERS_SQLITE = text("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY 1")


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


@pytest.fixture
async def tenant_engine(empty_url: str) -> AsyncIterator[AsyncEngine]:
    """The engine of tenant ``acme`` in the test database (not migrated yet)."""
    engine = create_engine(tenant_url(empty_url, "acme"))
    try:
        yield scoped_engine(engine, "acme")
    finally:
        await engine.dispose()


async def _triggers(engine: AsyncEngine, schema: str = "tenant_acme") -> list[str]:
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return list((await connection.scalars(TRIGGERS_SQLITE)).all())
        return list((await connection.scalars(TRIGGERS_PG, {"schema": schema})).all())


async def test_a_tenant_upgrade_builds_the_models_in_its_own_place(
    backend: str, empty_url: str, tenant_engine: AsyncEngine
) -> None:
    await upgrade(empty_url, tenant="acme")
    await upgrade(empty_url, tenant="acme")  # a second run changes nothing
    assert await current_revision(tenant_engine) == head_revision()
    await check_schema(tenant_engine)
    await check_schema_readable(tenant_engine)
    async with tenant_engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
    if backend == "sqlite":
        # Its file in tenants/ (0700); the main business's file is not made by it.
        assert _sqlite_files(empty_url) == (True, 0o700, False)
        return
    default = create_engine(empty_url)
    try:
        assert await current_revision(default) is None  # public: untouched
        async with default.connect() as connection:
            public = await connection.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
        assert public == 0
    finally:
        await default.dispose()


def _sqlite_files(url: str) -> tuple[bool, int, bool]:
    """Whether tenants/acme.db is a file, the tenants/ folder's mode, whether the main exists."""
    main = Path(make_url(url).database or "")
    folder = main.parent / "tenants"
    return (folder / "acme.db").is_file(), stat.S_IMODE(folder.stat().st_mode), main.exists()


async def test_a_tenant_never_migrated_is_told_to_upgrade(tenant_engine: AsyncEngine) -> None:
    with pytest.raises(SchemaOutdatedError, match="run `asterisk-textback db upgrade`"):
        await check_schema_readable(tenant_engine)
    assert await current_revision(tenant_engine) is None


async def test_the_default_tenant_does_not_see_a_tenants_revision(
    backend: str, empty_url: str
) -> None:
    await upgrade(empty_url, tenant="acme")
    default = create_engine(empty_url)
    try:
        with pytest.raises(SchemaOutdatedError):
            await check_schema(default)
    finally:
        await default.dispose()


@pytest.mark.parametrize("bad", ["../etc", "Acme", "a" * 33, "-x"])
async def test_a_bad_tenant_id_is_refused_before_anything_is_made(
    backend: str, empty_url: str, bad: str
) -> None:
    with pytest.raises(ValueError, match=f"tenant id {bad!r} is not allowed"):
        await upgrade(empty_url, tenant=bad)
    if backend == "sqlite":
        folder = Path(make_url(empty_url).database or "").parent
        assert not (folder / "tenants").exists()
        assert not (folder.parent / "etc.db").exists()


async def test_a_round_trip_keeps_the_tenants_triggers(
    backend: str, empty_url: str, tenant_engine: AsyncEngine
) -> None:
    await upgrade(empty_url, tenant="acme")
    triggers = await _triggers(tenant_engine)
    assert len(triggers) >= 16  # 0007: 5 x insert/update/delete + calls_no_sms
    await downgrade(empty_url, "0006", tenant="acme")
    assert await _triggers(tenant_engine) == []
    assert await current_revision(tenant_engine) == "0006"
    await upgrade(empty_url, tenant="acme")
    assert await _triggers(tenant_engine) == triggers
    await _insert_call(tenant_engine, "rt-1")
    async with tenant_engine.connect() as connection:
        hours = await connection.scalar(text("SELECT sum(calls) FROM call_hours"))
    assert hours == 1
    if backend == "postgresql":
        async with tenant_engine.connect() as connection:
            functions = (await connection.execute(FUNCTIONS_PG, {"schema": "tenant_acme"})).all()
            consent = await connection.scalar(
                text(
                    "SELECT column_default FROM information_schema.columns WHERE "
                    "table_schema = 'tenant_acme' AND table_name = 'consent_events' "
                    "AND column_name = 'id'"
                )
            )
        assert len(functions) == 6
        assert all(config == ["search_path=tenant_acme"] for _, config in functions)
        # 0010 made consent_events anew on the way up: it was pointed at the shared ids again.
        assert "public.textback_tenant_ids" in consent


async def _insert_call(engine: AsyncEngine, linkedid: str, *, table: str = "calls") -> int:
    async with engine.begin() as connection:
        found = await connection.scalar(
            text(
                f"INSERT INTO {table} (pbx, linkedid, direction, outcome, reason, "
                "caller_number, caller_name, caller_e164, did, started_at, ended_at, "
                "ring_seconds, action, created_at) VALUES ('pbx', :l, 'inbound', "
                "'missed_no_voicemail', 'no_answer', '2125550147', '', '+12125550147', "
                "'5550100', '2026-03-02 14:58:00+00', '2026-03-02 14:59:00+00', 25, "
                "'send', '2026-03-02 15:00:00+00') RETURNING id"
            ),
            {"l": linkedid},
        )
    assert isinstance(found, int)
    return found


async def test_upgrades_run_at_once_by_several_processes_all_reach_head(
    empty_url: str,
) -> None:
    # Two `db upgrade` runs at once (two terminals, two hosts): each tenant twice. On
    # PostgreSQL the migration lock serializes them (else CREATE SCHEMA and the tables race);
    # SQLite files are apart. (Within one process alembic's context is process-wide: one
    # upgrade at a time there.)
    names = ["acme", "bee", "acme", "bee"]
    script = (
        "import asyncio, sys\n"
        "from asterisk_textback.store.schema import upgrade\n"
        "asyncio.run(upgrade(sys.argv[1], tenant=sys.argv[2]))\n"
    )
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, empty_url, name, stderr=asyncio.subprocess.PIPE
        )
        for name in names
    ]
    results = await asyncio.gather(*(run.communicate() for run in runs))
    assert [
        (run.returncode, err.decode()[-300:]) for run, (_, err) in zip(runs, results, strict=True)
    ] == [(0, "")] * len(names)
    for name in set(names):
        engine = create_engine(tenant_url(empty_url, name))
        try:
            assert await current_revision(scoped_engine(engine, name)) == head_revision()
        finally:
            await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_tenant_ids_come_from_the_shared_range_and_public_keeps_its_own(
    empty_url: str, tenant_engine: AsyncEngine
) -> None:
    await upgrade(empty_url)
    await upgrade(empty_url, tenant="acme")
    await upgrade(empty_url, tenant="bee-co")
    defaults = text(
        "SELECT table_schema, table_name, column_default FROM information_schema.columns "
        "WHERE column_default LIKE 'nextval(%' ORDER BY 1, 2"
    )
    async with tenant_engine.connect() as connection:
        await connection.execute(text("SET LOCAL search_path TO public"))
        rows = (await connection.execute(defaults)).all()
    by_schema: dict[str, set[str]] = {}
    for schema, table, default in rows:
        by_schema.setdefault(schema, set()).add(table)
        shared = "textback_tenant_ids" in default
        assert shared is (schema != "public"), (schema, table, default)
    assert by_schema["tenant_acme"] == by_schema["tenant_bee_co"] == by_schema["public"]
    assert {"calls", "messages", "inbound_messages", "consent_events"} <= by_schema["public"]
    assert await _insert_call(tenant_engine, "shared-1") >= SHARED_START
    default = create_engine(empty_url)
    try:
        assert await _insert_call(default, "own-1") == 1
    finally:
        await default.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_an_identity_column_is_shared_and_a_narrow_id_refused(
    empty_url: str, tenant_engine: AsyncEngine
) -> None:
    await upgrade(empty_url, tenant="acme")
    async with tenant_engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE extra (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)")
        )
    await upgrade(empty_url, tenant="acme")
    async with tenant_engine.begin() as connection:
        found = await connection.scalar(text("INSERT INTO extra DEFAULT VALUES RETURNING id"))
        assert found is not None
        assert found >= SHARED_START
        await connection.execute(text("CREATE TABLE narrow (id serial PRIMARY KEY)"))
    with pytest.raises(NarrowIdError, match=r"^tenant_acme\.narrow\.id is integer: "):
        await upgrade(empty_url, tenant="acme")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_pinned_triggers_fill_their_own_schema_whatever_the_search_path(
    empty_url: str, tenant_engine: AsyncEngine
) -> None:
    await upgrade(empty_url)
    await upgrade(empty_url, tenant="acme")
    default = create_engine(empty_url)
    try:
        # An admin's SQL naming the tenant's table from the default search path.
        await _insert_call(default, "qualified-1", table="tenant_acme.calls")
        async with default.connect() as connection:
            public = await connection.scalar(text("SELECT count(*) FROM public.call_hours"))
    finally:
        await default.dispose()
    async with tenant_engine.connect() as connection:
        own = await connection.scalar(text("SELECT sum(calls) FROM call_hours"))
    assert (public, own) == (0, 1)


async def test_an_unreachable_database_is_one_line_for_a_tenant_too(pg_server: Any) -> None:
    url = pg_server.url("textback_no_such_database_b")
    engine = create_engine(url)
    try:
        with pytest.raises(DatabaseUnreadableError, match="does not exist"):
            await check_schema_readable(scoped_engine(engine, "acme"))
    finally:
        await engine.dispose()
