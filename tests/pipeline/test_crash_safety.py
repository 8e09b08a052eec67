"""Outbox crash safety: the real service, SIGKILLed at random points, restarted, 100 times.

A 1,000-call stream (every recorded trace cloned with fresh ids and a distinct caller per
call) goes to the service only while it is logged in. The fake gateway counts every
idempotency key; at the end no key may have arrived twice and every text the service decided
to send must have arrived exactly once, except the rows it honestly marked ``unknown``
(killed between committing ``sending_at`` and recording the result).

The 100 kills and 1,000 calls are shared by four services run side by side, each with its
own database, PBX and gateway (25 kills over 250 calls each, at the same pace and life
lengths as one service taking all 100): a kill cycle is mostly waiting, so this costs a
quarter of the time and every kill is as real as before.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.store.schema import upgrade
from tests.pipeline.support import (
    AMI_SECRET,
    AMI_USER,
    FakeGateway,
    PausingStreamer,
    ServiceProcess,
    build_workload,
    load_traces,
    query,
    sqlite_url,
    wait_logged_in,
    wait_until_quiet,
    write_config,
)

#: SIGKILLs over the run (the issue asks for 100).
KILLS = 100
CALLS = 1_000
#: Independent services killed side by side, each with its own database, PBX, gateway and
#: share of the kills and calls: the lives are mostly waiting, so four at once take about
#: a quarter of the time, and each kill still lands on a service under the same load.
LANES = 4
#: Calls per second of stream time; the stream advances only while the service is logged in.
RATE = 12.5
#: Quiet stretches inside a call are cut to this (a voicemail need not take 20 s here).
MAX_GAP = 0.1
#: Each life lasts this long (uniform, seconds) after the service logged in.
LIFE = (0.0, 1.6)
SEED = 20261127
#: The fake gateway answers after this long, so kills often land mid-request and mid-batch.
GATEWAY_DELAY = 0.02


@dataclass(slots=True)
class Lane:
    """What one service saw: its database, gateway, exit codes and streamer."""

    db: Path
    gateway: FakeGateway
    kill_codes: Counter[int]
    final: Counter[str]
    stop_code: int
    paused: float
    log: str


async def _wait_logged_out(server: AmiServer) -> None:
    async with asyncio.timeout(10):
        while server.logged_in:  # noqa: ASYNC110 - AmiServer has no logout event
            await asyncio.sleep(0.005)


async def _lane(workdir: Path, seed: int, kills: int, calls: int) -> Lane:
    """One service in ``workdir`` (its database already there): ``kills`` SIGKILLs at random
    points of ``calls`` calls."""
    rng = random.Random(seed)
    db = workdir / "textback.db"
    workload = await asyncio.to_thread(
        build_workload,
        load_traces(),
        calls,
        rate=RATE,
        start_at=time.time(),
        max_gap=MAX_GAP,
        seed=seed,
    )
    gateway_ctx = FakeGateway(delay=GATEWAY_DELAY)
    async with gateway_ctx as gateway, AmiServer({AMI_USER: AMI_SECRET}) as server:
        config = write_config(
            workdir / "textback.toml",
            ami_port=server.port,
            gateway_url=gateway.url,
            database_url=sqlite_url(db),
        )
        service = ServiceProcess(config, workdir / "service.log", forked=True)
        streamer = PausingStreamer(server, workload.frames)
        streaming = asyncio.create_task(streamer.run())
        kill_codes: Counter[int] = Counter()
        try:
            for _ in range(kills):
                await service.start()
                await wait_logged_in(server, service)
                await asyncio.sleep(rng.uniform(*LIFE))
                kill_codes[await service.signal(signal.SIGKILL)] += 1
                await _wait_logged_out(server)
            await service.start()
            await wait_logged_in(server, service)
            async with asyncio.timeout(300):
                await streaming
            async with asyncio.timeout(120):
                final = await wait_until_quiet(db)
            code = await service.signal(signal.SIGTERM)
        finally:
            streaming.cancel()
            await service.ensure_stopped()
    return Lane(db, gateway, kill_codes, final, code, streamer.paused_seconds, service.log_tail())


async def test_sigkill_100_times_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    """Zero duplicates, zero losses; unknowns reported with whether they really left."""
    began = time.monotonic()
    # One migration copied to every lane: alembic's upgrade is not safe to run concurrently.
    migrated = tmp_path / "migrated.db"
    await upgrade(sqlite_url(migrated))
    workdirs = [tmp_path / f"lane{i}" for i in range(LANES)]
    for workdir in workdirs:
        workdir.mkdir()
        shutil.copyfile(migrated, workdir / "textback.db")
    lanes = await asyncio.gather(
        *(
            _lane(workdir, SEED + i, KILLS // LANES, CALLS // LANES)
            for i, workdir in enumerate(workdirs)
        )
    )
    elapsed = time.monotonic() - began

    for lane in lanes:
        assert lane.stop_code == 0, lane.log
    assert sum((lane.kill_codes for lane in lanes), Counter()) == {-signal.SIGKILL: KILLS}
    rows = [
        row
        for lane in lanes
        for row in query(lane.db, "SELECT idempotency_key, status FROM messages")
    ]
    calls = sum(query(lane.db, "SELECT count(*) FROM calls")[0][0] for lane in lanes)
    statuses = Counter(status for _, status in rows)
    duplicates: dict[str, int] = {}
    sent_wrong: dict[str, int] = {}
    lost: dict[str, str] = {}
    strangers: set[str] = set()
    unknown = unknown_received = received = requests = 0
    for i, lane in enumerate(lanes):
        gateway = lane.gateway
        keys = dict(query(lane.db, "SELECT idempotency_key, status FROM messages"))
        # Keys are per PBX and call, so two lanes may share one: tell them apart here.
        duplicates |= {f"{i}/{k}": n for k, n in gateway.duplicates().items()}
        sent_wrong |= {
            f"{i}/{k}": gateway.keys[k]
            for k, s in keys.items()
            if s == "sent" and gateway.keys[k] != 1
        }
        lost |= {f"{i}/{k}": s for k, s in keys.items() if s not in ("sent", "unknown")}
        strangers |= {f"{i}/{k}" for k in set(gateway.keys) - set(keys)}
        lane_unknown = [k for k, s in keys.items() if s == "unknown"]
        unknown += len(lane_unknown)
        unknown_received += sum(1 for k in lane_unknown if gateway.keys[k])
        received += len(gateway.keys)
        requests += len(gateway.requests)
    final = sum((lane.final for lane in lanes), Counter())
    print(
        f"\ncrash test: {KILLS} kills in {elapsed:.0f}s ({LANES} services side by side); "
        f"{CALLS} calls streamed, {calls} recorded; "
        f"{len(rows)} texts decided: {dict(statuses)}; received {received} keys in "
        f"{requests} requests; duplicates {len(duplicates)}; lost {len(lost)}; "
        f"unknown {unknown} (received by the fake: {unknown_received}, "
        f"never received: {unknown - unknown_received}); final {dict(final)}; "
        f"stream paused {sum(lane.paused for lane in lanes):.0f}s"
    )
    assert duplicates == {}, "texts sent twice"
    assert lost == {}, "texts neither sent nor unknown"
    assert sent_wrong == {}, "rows marked sent that did not arrive exactly once"
    assert strangers == set(), "the fake received keys with no outbox row"
    assert len(rows) > CALLS // 4, "too few texts for the test to mean anything"
