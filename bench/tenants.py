"""Many tenants on one PostgreSQL: a tenant's 30-day Overview, send latency, failover.

    python bench/tenants.py                                   # 200 tenants, 10,000,000 calls
    python bench/tenants.py --tenants 20 --calls 1000000 --parts overview
    python bench/tenants.py --tenants 4 --calls 2000 --runs 1  # a quick check

``overview``: a throwaway database (``--database-url``, created and dropped) gets one schema
per tenant, each migrated to the head revision by ``store.schema.upgrade(url, tenant=id)``
(what ``db upgrade`` does), then seeded with its share of ``--calls`` calls over the year
ending 2026-11-27 (30% missed, 90% of those texted, 85% delivered, 20% replied, a quarter
of the replies booked: bench/dashboard.py's mix), made by PostgreSQL itself
(``generate_series``, ``random()`` seeded per tenant) over two connections. Migration
0007's triggers are off while seeding (``session_replication_role = replica``: the bench
needs a superuser): each call row carries its flags, and the hourly sums are written by the
migration's own backfill statement. Running the migration's flag backfill over the first
tenant (rolled back) must change nothing: checked. Then ANALYZE, and, for ``--sample``
tenants spread over the list, the Overview's data is read as the dashboard reads it:
``web.dashboard.overview_data.overview_data`` in one read-only session on the tenant's
scoped engine (``store.tenant_scope.scoped_engine``; statements paced as the report worker
paces them), one warm-up and ``--runs`` timed reads each; ``overview_p50_ms`` is the median
of all of them. The report worker's process hop (pickling the result) is not included.

``send`` and ``failover`` are in :mod:`bench.tenants_send` (see there).

Last line: ``tenants n=<tenants> calls=<calls> overview_p50_ms=<x> send_p99_ms=<x>
failover_s=<x>`` (``nan`` for a part not run).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import math
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from asterisk_textback.kpi.periods import parse_period
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.store import migrations
from asterisk_textback.store.engine import create_engine, create_session_factory, pace_statements
from asterisk_textback.store.schema import upgrade
from asterisk_textback.store.tenant_scope import scoped_engine
from asterisk_textback.store.uow import reading
from asterisk_textback.tenancy.ids import schema_for
from asterisk_textback.web.dashboard.overview_data import overview_data

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1/textback_bench"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
YEAR = 365 * 86400
#: As the report worker paces a PostgreSQL report (``web.dashboard.worker``).
REST_AFTER = 0.05
#: Ids of tenant k's calls start here (apart from every other tenant's, as the shared
#: sequence keeps them in production; below its start, 10**12, so they never meet).
ID_STRIDE = 10**9

_SEED = """
CREATE TEMP TABLE seed ON COMMIT DROP AS
SELECT $1::bigint + i AS id, i,
       random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
       '+1212' || (1000000 + floor(random() * 9000000))::bigint AS num,
       $2::timestamptz + make_interval(secs => i * $3::float8 / $4::bigint) AS ended
FROM generate_series(1, $4::bigint) AS i
"""
_TEXTED = "r1 < 0.3 AND r2 < 0.9"
_DELIVERED = f"{_TEXTED} AND r3 < 0.85"
_REPLIED = f"{_DELIVERED} AND r4 < 0.2"
_BOOKED = f"{_REPLIED} AND r5 < 0.25"
_REPLY = "Yes please, call me back about the quote"
_SENT = "ended + interval '1 second'"
#: The calls with the flags migration 0007 keeps (its triggers are off while seeding):
#: what the rows below make of each call (checked against the migration's expressions).
_CALLS = f"""
INSERT INTO calls (id, pbx, linkedid, direction, outcome, reason, caller_number, caller_e164,
                   caller_name, did, started_at, ended_at, ring_seconds, action,
                   suppress_reason, template, created_at, texted_at, response_seconds,
                   texts_sent, texts_delivered, segments_sent, first_reply_at, reply_chars,
                   booked_at)
SELECT id, 'default', i || '.1', 'inbound',
       CASE WHEN r1 < 0.3 THEN 'missed_no_voicemail' ELSE 'answered' END,
       CASE WHEN r1 < 0.3 THEN 'no_answer' ELSE 'answered' END,
       num, num, 'Caller ' || i, $1, ended - interval '20 seconds', ended, 20.0,
       CASE WHEN {_TEXTED} THEN 'send' ELSE 'suppress' END,
       CASE WHEN {_TEXTED} THEN NULL ELSE 'answered' END,
       CASE WHEN {_TEXTED} THEN 'missed' END, ended,
       CASE WHEN {_TEXTED} THEN {_SENT} END,
       CASE WHEN {_TEXTED} THEN EXTRACT(EPOCH FROM ({_SENT}) - ended) END,
       CASE WHEN {_TEXTED} THEN 1 ELSE 0 END,
       CASE WHEN {_DELIVERED} THEN 1 ELSE 0 END,
       CASE WHEN {_TEXTED} THEN 1 ELSE 0 END,
       CASE WHEN {_REPLIED} THEN {_SENT} END,
       CASE WHEN {_REPLIED} THEN length(trim('{_REPLY}')) END,
       CASE WHEN {_BOOKED} THEN {_SENT} END
FROM seed
"""
_MESSAGES = f"""
INSERT INTO messages (id, idempotency_key, call_id, kind, to_e164, sender, body, segments,
                      encoding, template, status, send_at, next_attempt_at, attempts,
                      created_at, updated_at, sent_at, delivered_at)
SELECT id, 'default:' || i || '.1:textback', id, 'textback', num, '+15550100000',
       'Sorry we missed your call', 1, 'gsm7', 'missed',
       CASE WHEN {_DELIVERED} THEN 'delivered' ELSE 'sent' END, ended, ended, 1, ended, ended,
       {_SENT}, CASE WHEN {_DELIVERED} THEN {_SENT} END
FROM seed WHERE {_TEXTED}
"""
_REPLIES = f"""
INSERT INTO inbound_messages (provider, provider_message_id, from_e164, to_e164, body,
                              received_at, kind, call_id, created_at, forward_done,
                              forward_attempts)
SELECT 'fake', 'in-' || i, num, '+15550100000', '{_REPLY}', {_SENT}, 'reply', id, {_SENT},
       '', 0
FROM seed WHERE {_REPLIED}
"""
_BOOKINGS = f"""
INSERT INTO bookings (source, status, value_minor, currency, booked_at, e164, call_id,
                      attributed_by, created_at, updated_at)
SELECT 'manual', 'booked', 25000, 'USD', {_SENT}, num, id, 'manual', {_SENT}, {_SENT}
FROM seed WHERE {_BOOKED}
"""
#: Every per-call flag of migration 0007, in one comparable string.
_FLAGS_SUM = """
SELECT md5(string_agg(concat_ws('|', id, first_reply_at, reply_chars, opted_out_at, booked_at,
                                texted_at, response_seconds, texts_sent, texts_delivered,
                                segments_sent, no_sms), ',' ORDER BY id))
FROM calls
"""
_HOURS_SUM = """
SELECT md5(string_agg(concat_ws('|', hour, did, calls, missed, capable, replied, stopped, texted,
                                delivered, segments, responded), ',' ORDER BY hour, did))
FROM call_hours
"""


def migration_0007() -> ModuleType:
    """Migration 0007 as a module whose SQL is PostgreSQL's (it asks alembic otherwise)."""
    path = next(Path(migrations.__file__).parent.glob("versions/0007_*.py"))
    spec = importlib.util.spec_from_file_location("bench_migration_0007", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__dict__["_sqlite"] = lambda: False  # its dialect switch asks alembic otherwise
    return module


def hours_backfill(m: ModuleType) -> str:
    """Migration 0007's ``call_hours`` backfill statement (the sums of every call's hour)."""
    sums = ", ".join(f"sum({c}) AS {c}" for c in m._SUMS)
    parts = ", ".join(
        f"{expr} AS {name}"
        for expr, name in zip(m._contributions("calls", ""), m._SUMS, strict=True)
    )
    return (
        f"INSERT INTO call_hours (hour, did, {', '.join(m._SUMS)}) "
        f"SELECT hour, did, {sums} FROM (SELECT {m._hour('calls')} AS hour, "
        f"calls.did AS did, {parts} FROM calls WHERE calls.direction = 'inbound') AS c "
        "GROUP BY hour, did"
    )


def flag_updates(m: ModuleType) -> list[str]:
    """Migration 0007's flag backfill statements (recompute each flag from the rows)."""
    return [
        f"UPDATE calls SET {sets} WHERE id IN ({source})"
        for sets, source in (
            (m._reply_sets(), "SELECT call_id FROM inbound_messages"),
            (m._text_sets(), "SELECT call_id FROM messages"),
            (m._booking_sets(), "SELECT call_id FROM bookings"),
        )
    ]


def tenant_ids(n: int) -> list[str]:
    """``t0000``, ``t0001``, ...: ``n`` well-formed tenant ids."""
    return [f"t{i:04d}" for i in range(n)]


def shares(calls: int, tenants: int) -> list[int]:
    """``calls`` split over ``tenants`` as evenly as whole calls allow."""
    base, extra = divmod(calls, tenants)
    return [base + (1 if i < extra else 0) for i in range(tenants)]


def dsn(url: str, database: str | None = None) -> str:
    """An asyncpg DSN for ``url`` (or another database on its server)."""
    parsed = make_url(url)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


async def _on_server(url: str, sql: str) -> None:
    connection = await asyncpg.connect(dsn(url, "postgres"), timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def create_database(url: str) -> None:
    """Create the bench's database afresh (dropping one left by an interrupted run)."""
    name = make_url(url).database
    await _on_server(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _on_server(url, f'CREATE DATABASE "{name}"')


async def drop_database(url: str) -> None:
    """Drop the bench's database."""
    await _on_server(url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


async def _seed_one(
    connection: asyncpg.Connection, index: int, tenant: str, n: int, hours: str
) -> int:
    """Seed ``tenant``'s schema (at the head revision) with ``n`` calls; the rows written."""
    start = NOW - timedelta(seconds=YEAR)
    written = 0
    async with connection.transaction():
        await connection.execute(f'SET LOCAL search_path TO "{schema_for(tenant)}"')
        # Triggers (migration 0007's and the foreign keys') off: the rows come with their
        # flags, and the hourly sums are computed once below, as the migration does.
        await connection.execute("SET LOCAL session_replication_role = replica")
        await connection.execute("SELECT setseed($1)", (index % 1000) / 1000)
        await connection.execute(_SEED, index * ID_STRIDE, start, float(YEAR), n)
        for sql, args in (
            (_CALLS, (f"555{index:04d}",)),
            (_MESSAGES, ()),
            (_REPLIES, ()),
            (_BOOKINGS, ()),
        ):
            status = await connection.execute(sql, *args)
            written += int(status.rsplit(" ", 1)[1])
        await connection.execute(hours)
    return written


async def check_flags(url: str, tenant: str, migration: ModuleType) -> None:
    """The seeded flags and hourly sums of ``tenant`` are what migration 0007 computes.

    Its backfill statements run over the tenant's rows in a transaction that is rolled back;
    the flags and the sums must come out unchanged.
    """
    connection = await asyncpg.connect(dsn(url), timeout=10)
    try:
        transaction = connection.transaction()
        await transaction.start()
        try:
            await connection.execute(f'SET LOCAL search_path TO "{schema_for(tenant)}"')
            await connection.execute("SET LOCAL session_replication_role = replica")
            before = (await connection.fetchval(_FLAGS_SUM), await connection.fetchval(_HOURS_SUM))
            for update in flag_updates(migration):
                await connection.execute(update)
            await connection.execute("DELETE FROM call_hours")
            await connection.execute(hours_backfill(migration))
            after = (await connection.fetchval(_FLAGS_SUM), await connection.fetchval(_HOURS_SUM))
        finally:
            await transaction.rollback()
    finally:
        await connection.close()
    if before != after:
        raise RuntimeError(
            f"tenant {tenant}: the seeded flags or hourly sums differ from migration 0007's"
        )


async def seed(url: str, tenants: Sequence[str], calls: int, workers: int = 2) -> None:
    """Schemas at the head revision, then rows with their flags and sums, per tenant."""
    began = time.perf_counter()
    await upgrade(url)  # the public schema: the default tenant, the shared id sequence
    for tenant in tenants:
        await upgrade(url, tenant=tenant)
    migrated = time.perf_counter()
    print(f"{len(tenants)} tenant schemas migrated (db upgrade): {migrated - began:.1f} s")
    migration = migration_0007()
    hours = hours_backfill(migration)
    queue: asyncio.Queue[tuple[int, str, int]] = asyncio.Queue()
    for item in zip(range(len(tenants)), tenants, shares(calls, len(tenants)), strict=True):
        queue.put_nowait(item)
    rows = [0]

    async def work() -> None:
        connection = await asyncpg.connect(dsn(url), timeout=10)
        try:
            while not queue.empty():
                index, tenant, n = queue.get_nowait()
                written = await _seed_one(connection, index, tenant, n, hours)
                rows[0] += written  # after the await: the other worker's adds are not lost
        finally:
            await connection.close()

    await asyncio.gather(*(work() for _ in range(workers)))
    seeded = time.perf_counter()
    print(f"seeded {calls:,} calls ({rows[0]:,} rows in all): {seeded - migrated:.1f} s")
    connection = await asyncpg.connect(dsn(url), timeout=10)
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    analysed = time.perf_counter()
    print(f"ANALYZE: {analysed - seeded:.1f} s; seed time in all {analysed - began:.1f} s")
    await check_flags(url, tenants[0], migration)
    print(
        f"tenant {tenants[0]}: flags and hourly sums equal migration 0007's "
        f"(checked in {time.perf_counter() - analysed:.1f} s)"
    )


async def overview_times(url: str, tenants: Sequence[str], runs: int) -> list[float]:
    """Milliseconds per 30-day Overview read of each tenant (after one warm-up each)."""
    kpi, zone = KpiSettings(), UTC
    period = parse_period("30d", NOW, zone)
    engine = create_engine(url)
    pace_statements(engine, rest_after=REST_AFTER)
    times: list[float] = []
    try:
        for tenant in tenants:
            sessions = create_session_factory(scoped_engine(engine, tenant))
            mine: list[float] = []
            for n in range(runs + 1):
                began = time.perf_counter()
                async with reading(sessions) as session:
                    data = await overview_data(
                        session, period, None, kpi, zone, labels={}, controls={}
                    )
                elapsed = (time.perf_counter() - began) * 1000
                if not data.kpis.value("inbound_calls"):
                    raise RuntimeError(f"tenant {tenant}: the Overview found no calls")
                if n:
                    mine.append(elapsed)
            print(
                f"tenant {tenant}: 30d Overview median {statistics.median(mine):.0f} ms "
                f"(min {min(mine):.0f}, max {max(mine):.0f}; "
                f"{data.kpis.value('inbound_calls'):.0f} inbound calls in the period)"
            )
            times += mine
    finally:
        await engine.dispose()
    return times


def sample(tenants: Sequence[str], k: int) -> list[str]:
    """``k`` tenants spread evenly over the list (the first and the last among them)."""
    if k >= len(tenants):
        return list(tenants)
    if k == 1:
        return [tenants[0]]
    return [tenants[round(i * (len(tenants) - 1) / (k - 1))] for i in range(k)]


async def overview_part(args: argparse.Namespace) -> float:
    """Seed (unless ``--reuse``), then the 30-day Overview p50 in ms."""
    tenants = tenant_ids(args.tenants)
    if not args.reuse:
        await seed(args.database_url, tenants, args.calls)
    times = await overview_times(args.database_url, sample(tenants, args.sample), args.runs)
    return statistics.median(times)


def machine_speed() -> float:
    """Seconds for a pure Python loop of 10,000,000 additions (to compare machines)."""
    began = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - began


def _parts(text: str) -> set[str]:
    chosen = {p.strip() for p in text.split(",") if p.strip()}
    unknown = chosen - {"overview", "send", "failover"}
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"--parts: {', '.join(sorted(unknown)) or 'nothing'}: choose from overview, send, "
            "failover"
        )
    return chosen


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 1 or more")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tenants", type=_positive, default=200)
    parser.add_argument("--calls", type=_positive, default=10_000_000)
    parser.add_argument("--parts", type=_parts, default="overview,send,failover")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--sample", type=_positive, default=5, help="tenants timed (overview)")
    parser.add_argument("--runs", type=_positive, default=5, help="timed reads per tenant")
    parser.add_argument("--links", type=_positive, default=50, help="PBX links (send)")
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second (send)")
    parser.add_argument("--send-calls", type=_positive, default=3000, help="calls (send)")
    parser.add_argument("--failover-links", type=_positive, default=4, help="links (failover)")
    parser.add_argument(
        "--service-wrapper",
        type=Path,
        help="send: run the service as `python FILE -m asterisk_textback run …` (a probe)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="overview: time the database a --keep run left (same --tenants/--calls), no seeding",
    )
    args = parser.parse_args(argv)
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url: the tenants bench needs PostgreSQL (postgresql+asyncpg://)")
    return args


def _shown(value: float, digits: int = 0) -> str:
    return "nan" if math.isnan(value) else f"{value:.{digits}f}"


def main(argv: Sequence[str] | None = None) -> None:
    """Run the chosen parts; the figures on the last line."""
    args = parse_args(argv)
    print(f"machine: a pure Python loop of 10,000,000 additions takes {machine_speed():.2f} s")
    overview = send = failover = math.nan
    if "overview" in args.parts:
        if not args.reuse:
            asyncio.run(create_database(args.database_url))
        try:
            overview = asyncio.run(overview_part(args))
        finally:
            if not (args.keep or args.reuse):
                asyncio.run(drop_database(args.database_url))
    if "send" in args.parts or "failover" in args.parts:
        from bench import tenants_send

        if "send" in args.parts:
            send = tenants_send.send_part(args)
        if "failover" in args.parts:
            failover = tenants_send.failover_part(args)
    # calls=: the calls seeded for the Overview, or those streamed when only sending ran.
    calls = args.calls if "overview" in args.parts or "send" not in args.parts else args.send_calls
    print(
        f"tenants n={args.tenants} calls={calls} overview_p50_ms={_shown(overview)} "
        f"send_p99_ms={_shown(send)} failover_s={_shown(failover, 1)}"
    )


if __name__ == "__main__":
    main()
