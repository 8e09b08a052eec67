"""``bench/tenants.py`` end to end on tiny numbers, so that it cannot rot."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

from tests.dbfixtures import PG_SERVER

ROOT = Path(__file__).resolve().parents[2]
LAST = re.compile(
    r"tenants n=(\d+) calls=(\d+) overview_p50_ms=(\d+|nan) send_p99_ms=(\d+|nan) "
    r"failover_s=([\d.]+|nan)"
)


def _bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "bench/tenants.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _url() -> str:
    return f"{PG_SERVER}/textback_bench_test_{secrets.token_hex(4)}"


def test_overview_seeds_checks_and_times_the_tenants() -> None:
    done = _bench(
        "--tenants", "3", "--calls", "3000", "--parts", "overview", "--runs", "1",
        "--sample", "2", "--database-url", _url(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"seeded 3,000 calls \([\d,]+ rows in all\): [\d.]+ s", lines[2])
    assert "tenant t0000: flags and hourly sums equal migration 0007's" in done.stdout
    timed = [line for line in lines if "30d Overview median" in line]
    assert [line.split(":")[0] for line in timed] == ["tenant t0000", "tenant t0002"]
    last = LAST.fullmatch(lines[-1])
    assert last is not None, lines[-1]
    assert last.group(1, 2) == ("3", "3000")
    assert last[3] != "nan"
    assert last.group(4, 5) == ("nan", "nan")


def test_bad_options_are_one_line_each() -> None:
    parts = _bench("--parts", "overview,bogus", timeout=60)
    assert parts.returncode == 2
    assert "--parts: bogus: choose from overview, send, failover" in parts.stderr
    sqlite = _bench("--database-url", "sqlite+aiosqlite:///x.db", timeout=60)
    assert sqlite.returncode == 2
    assert "the tenants bench needs PostgreSQL" in sqlite.stderr
    calls = _bench("--calls", "0", timeout=60)
    assert calls.returncode == 2
    assert "'0': must be 1 or more" in calls.stderr


def test_each_link_s_calls_carry_their_tenant_s_did_and_a_number_of_their_own() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.tenants_send import _send_traces, link_work

    traces = _send_traces()
    assert traces
    numbers: set[str] = set()
    for link in range(2):
        dids = [f"770000{link * 2 + k}" for k in range(2)]
        work = link_work(traces, 6, link=link, links=2, dids=dids, rate=10, start_at=1e9)
        assert not any(b"5550100" in frame for frame in work.frames)
        assert all(any(d.encode() in f for f in work.frames) for d in dids)
        mine = set(work.hangups.values())
        assert not mine & numbers
        numbers |= mine
        for position, number in work.hangups.items():
            assert work.frames[position].startswith(b"Event: Hangup\r\n")
            assert number.encode() in b"".join(work.frames)
