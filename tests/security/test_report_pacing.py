"""Reports on PostgreSQL leave texting its share of the CPU.

A report's work on PostgreSQL runs in the server's backend, which the report process's
niceness does not reach, so the report process rests after each long statement as long as it
ran (``bench/pipeline.py --with-dashboard-load`` measures what that buys). Checked here
through the real report worker process against the real server: a statement of 0.3 s costs
the report at least 0.6 s. (A report whose statements take under 50 ms in all does not rest.)
"""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from asterisk_textback.web.dashboard.worker import ReportWorker


async def busy_statement(session: AsyncSession, seconds: float) -> float:
    """A report whose one statement keeps the server busy for ``seconds``."""
    await session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
    return seconds


async def _timed(worker: ReportWorker, seconds: float) -> float:
    began = time.perf_counter()
    assert await worker.run(busy_statement, seconds) == seconds
    return time.perf_counter() - began


async def test_a_long_statement_is_followed_by_as_long_a_rest(pg_migrated: str) -> None:
    worker = ReportWorker(pg_migrated, timeout=30.0)
    worker.start()
    try:
        await _timed(worker, 0.0)  # spawns the process: not part of what is measured
        assert await _timed(worker, 0.3) >= 0.6
    finally:
        await worker.stop()
