"""Time the dashboard's Overview page (GET /) on a SQLite database with N calls.

    python bench/dashboard.py                  # 1,000,000 calls over a year, 30d and 365d
    python bench/dashboard.py --calls 100000 --periods 365d --zone UTC

Seeds with bulk ``executemany`` through the stdlib sqlite3 module into a schema made by the
real migrations up to revision 0006 (one year of calls ending now; 30% missed, 90% of those
texted, 85% of texts delivered, 20% of deliveries replied, 5% booked), then upgrades it to
the head revision as ``db upgrade`` would (migration 0007 computes the per-call flags and
hourly sums from those rows: its time is printed), then serves the real dashboard app on a
loopback port and times GET / (logged in) with an HTTP client for each of ``--periods``:
one warm-up, then --runs. The business is in ``--zone`` (default America/New_York): charts
count its local days. Last line: ``dashboard calls=<n> p50_ms_30d=<x> p50_ms_365d=<x>``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp.test_utils import TestClient, TestServer

from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.schema import upgrade
from asterisk_textback.web.dashboard.app import DashboardDeps
from asterisk_textback.web.dashboard.auth import hash_password
from asterisk_textback.web.dashboard.mount import dashboard_app
from asterisk_textback.web.dashboard.settings import DashboardSettings

#: The revision whose schema the rows are written for; later ones migrate them.
SEED_REVISION = "0006"


def _text(at: datetime) -> str:
    """SQLAlchemy's SQLite storage format for a naive UTC datetime."""
    return at.isoformat(sep=" ", timespec="microseconds")


def seed(path: Path, calls: int, now: datetime, rng: random.Random) -> None:
    """Bulk-insert ``calls`` calls and their texts, replies and bookings."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    start = now.replace(tzinfo=None) - timedelta(days=365)
    span = 365 * 86400
    twenty, one = timedelta(seconds=20), timedelta(seconds=1)
    call_rows, msg_rows, in_rows, book_rows = [], [], [], []
    for i in range(1, calls + 1):
        ended = start + timedelta(seconds=span * i / calls)
        missed = rng.random() < 0.30
        number = f"+1212{rng.randrange(10**6, 10**7)}"
        texted = missed and rng.random() < 0.9
        e = _text(ended)
        call_rows.append(
            (
                i,
                "default",
                f"{i}.1",
                "inbound",
                "missed_no_voicemail" if missed else "answered",
                "no_answer" if missed else "answered",
                number,
                number,
                f"Caller {i}",
                "5550100",
                _text(ended - twenty),
                e,
                20.0,
                "send" if texted else "suppress",
                None if texted else "answered",
                "missed" if texted else None,
                e,
            )
        )
        if texted:
            delivered = rng.random() < 0.85
            sent = _text(ended + one)
            msg_rows.append(
                (
                    i,
                    f"default:{i}.1:textback",
                    i,
                    "textback",
                    number,
                    "+15550100000",
                    "Sorry we missed your call",
                    1,
                    "gsm7",
                    "missed",
                    "delivered" if delivered else "sent",
                    e,
                    e,
                    1,
                    e,
                    e,
                    sent,
                    sent if delivered else None,
                )
            )
            if delivered and rng.random() < 0.2:
                in_rows.append(
                    (
                        "fake",
                        f"in-{i}",
                        number,
                        "+15550100000",
                        "Yes please, call me back about the quote",
                        sent,
                        "reply",
                        i,
                        sent,
                    )
                )
                if rng.random() < 0.25:
                    book_rows.append(
                        ("manual", "booked", 25000, "USD", sent, number, i, "manual", sent, sent)
                    )
    db.executemany(
        "INSERT INTO calls (id, pbx, linkedid, direction, outcome, reason, caller_number, "
        "caller_e164, caller_name, did, started_at, ended_at, ring_seconds, action, "
        "suppress_reason, template, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        call_rows,
    )
    db.executemany(
        "INSERT INTO messages (id, idempotency_key, call_id, kind, to_e164, sender, body, "
        "segments, encoding, template, status, send_at, next_attempt_at, attempts, created_at, "
        "updated_at, sent_at, delivered_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        msg_rows,
    )
    db.executemany(
        "INSERT INTO inbound_messages (provider, provider_message_id, from_e164, to_e164, body, "
        "received_at, kind, call_id, created_at, forward_done, forward_attempts) "
        "VALUES (?,?,?,?,?,?,?,?,?,'',0)",
        in_rows,
    )
    db.executemany(
        "INSERT INTO bookings (source, status, value_minor, currency, booked_at, e164, call_id, "
        "attributed_by, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        book_rows,
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()
    print(
        f"seeded {calls:,} calls, {len(msg_rows):,} texts, {len(in_rows):,} replies, "
        f"{len(book_rows):,} bookings"
    )


async def measure(path: Path, now: datetime, period: str, runs: int, zone: ZoneInfo) -> list[float]:
    """Milliseconds per GET / (after one warm-up)."""
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    settings = DashboardSettings(
        password_hash=hash_password("bench", n=2**10), cookie_secure=False, default_period=period
    )
    deps = DashboardDeps(
        settings, create_session_factory(engine), KpiSettings(), clock=now.timestamp, zone=zone
    )
    times = []
    try:
        async with TestClient(TestServer(dashboard_app(deps), host="127.0.0.1")) as client:
            form = await (await client.get("/login")).text()
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            assert token
            await client.post(
                "/login", data={"csrf": token[1], "username": "admin", "password": "bench"}
            )
            for n in range(runs + 1):
                began = time.perf_counter()
                response = await client.get("/")
                body = await response.text()
                elapsed = (time.perf_counter() - began) * 1000
                assert response.status == 200
                assert "kpi-missed_call_rate" in body
                if n:
                    times.append(elapsed)
    finally:
        await engine.dispose()
    return times


def main() -> None:
    """Seed, migrate, then time the Overview for each period."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--periods", default="30d,365d", help="comma-separated periods")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", type=Path, help="reuse (or keep) this database file")
    parser.add_argument("--zone", type=ZoneInfo, default=ZoneInfo("America/New_York"))
    args = parser.parse_args()
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    medians: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        if not path.exists():
            asyncio.run(upgrade(url, SEED_REVISION))
            began = time.perf_counter()
            seed(path, args.calls, now, random.Random(7))
            print(f"seeding took {time.perf_counter() - began:.1f} s")
        began = time.perf_counter()
        asyncio.run(upgrade(url))  # a no-op for a --db already at the head revision
        print(
            f"db upgrade to head (flags and hourly sums backfilled) took "
            f"{time.perf_counter() - began:.1f} s"
        )
        for period in args.periods.split(","):
            times = asyncio.run(measure(path, now, period, args.runs, args.zone))
            medians[period] = statistics.median(times)
            print(
                f"GET / period={period} zone={args.zone.key}: "
                f"median {medians[period]:.0f} ms, min {min(times):.0f} ms, "
                f"max {max(times):.0f} ms over {len(times)} runs"
            )
    figures = " ".join(f"p50_ms_{p}={m:.0f}" for p, m in medians.items())
    print(f"dashboard calls={args.calls} {figures}")


if __name__ == "__main__":
    main()
