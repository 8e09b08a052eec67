"""SIGKILL, 20 missed calls while down (their CDR rows written), restart: 20 texts, once each.

The real service runs as a child process (``python -m asterisk_textback run``) with
``pbx.cdr_csv`` set; the fake gateway counts every text it receives.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections import Counter
from pathlib import Path

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.store.schema import upgrade
from tests.app.blip_support import cdr_row, copies
from tests.pipeline.support import (
    AMI_SECRET,
    AMI_USER,
    PBX_NAME,
    TRACES,
    FakeGateway,
    ServiceProcess,
    query,
    sqlite_url,
    wait_logged_in,
    write_config,
)

MISSED_WHILE_DOWN = 20


async def _until(check: object, what: str, service: ServiceProcess, limit: float = 30) -> None:
    assert callable(check)
    deadline = time.monotonic() + limit
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{service.log_tail()}")
        await asyncio.sleep(0.01)


async def test_sigkill_then_calls_missed_while_down_are_texted_once(tmp_path: Path) -> None:
    db = tmp_path / "textback.db"
    await upgrade(sqlite_url(db))
    cdr = tmp_path / "Master.csv"
    trace = read_trace(TRACES / "ringgroup-novm-caller-hangup-ringing.ami")
    async with AmiServer({AMI_USER: AMI_SECRET}) as pbx, FakeGateway() as gateway:
        config = write_config(
            tmp_path / "textback.toml",
            ami_port=pbx.port,
            gateway_url=gateway.url,
            database_url=sqlite_url(db),
            pbx={"cdr_csv": str(cdr)},
        )
        service = ServiceProcess(config, tmp_path / "service.log", forked=True)
        try:
            await service.start()
            await wait_logged_in(pbx, service)
            (live,) = copies(trace, 1, end_at=time.time())
            await pbx.stream(live.frames)
            await _until(lambda: len(gateway.requests) == 1, "the live call's text", service)
            await _until(
                lambda: (
                    query(db, "SELECT count(*) FROM pbx_marks WHERE pbx = ?", [PBX_NAME]) == [(1,)]
                ),
                "the first mark",
                service,
            )
            assert await service.signal(signal.SIGKILL) == -signal.SIGKILL
            # While it is down: 20 callers miss; Asterisk writes every call's CDR row.
            await asyncio.sleep(1.1)  # cdr_csv times have whole seconds
            down = copies(trace, MISSED_WHILE_DOWN, end_at=time.time(), first=1)
            cdr.write_text("".join(cdr_row(c, "NO ANSWER") for c in (live, *down)))
            await service.start()
            await wait_logged_in(pbx, service)
            await _until(
                lambda: len(gateway.requests) >= 1 + MISSED_WHILE_DOWN, "20 texts", service
            )
            await asyncio.sleep(0.5)  # a duplicate would arrive now
        finally:
            await service.ensure_stopped()
    assert gateway.duplicates() == {}
    per_number = Counter(r.to for r in gateway.requests)
    assert per_number == {f"+1{c.number}": 1 for c in (live, *down)}
    # The log says what was read back: the 20 (and the live call, when its row is in the
    # window: repeats are dropped by the recorder, as the texts above show).
    found = re.search(
        rf"start-up catch-up on {PBX_NAME}: (\d+) call\(s\)", service.log_path.read_text()
    )
    assert found is not None
    assert int(found.group(1)) in (MISSED_WHILE_DOWN, MISSED_WHILE_DOWN + 1)
