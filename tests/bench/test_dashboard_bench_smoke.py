"""The dashboard benchmark end to end on a small database, so that it cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_seeds_migrates_and_times_both_periods(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "bench/dashboard.py",
            "--calls",
            "3000",
            "--runs",
            "1",
            "--db",
            str(tmp_path / "bench.db"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(
        r"seeded 3,000 calls, [\d,]+ texts, [\d,]+ replies, [\d,]+ bookings", lines[0]
    )
    assert any(line.startswith("db upgrade to head") for line in lines)
    assert re.fullmatch(r"dashboard calls=3000 p50_ms_30d=\d+ p50_ms_365d=\d+", lines[-1])
