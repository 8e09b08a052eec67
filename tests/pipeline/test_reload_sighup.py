"""``run`` reloads its config on SIGHUP in the middle of a 100 calls/s replay.

The service is a real subprocess; the in-repo AMI server streams recorded traces at their
pace over TCP; texts go through the ``webhook`` provider to a local gateway that keeps
their bodies. Halfway through, the template changes and the service gets SIGHUP.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.store.schema import upgrade
from tests.app.reloadsupport import BodyGateway, config
from tests.pipeline.support import (
    AMI_SECRET,
    AMI_USER,
    PausingStreamer,
    ServiceProcess,
    build_workload,
    load_traces,
    query,
    sqlite_url,
    status_counts,
    wait_logged_in,
)

CALLS = 400
RATE = 100.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _reloads(port: int) -> dict[str, Any]:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as resp,
        ):
            health: dict[str, Any] = await resp.json()
    except (aiohttp.ClientError, TimeoutError):
        return {}
    return health.get("config_reloads") or {}


async def _all_recorded_and_sent(db: Path) -> None:
    """Every call of the replay stored and nothing left queued or sending (at most 60 s)."""
    async with asyncio.timeout(60):
        while True:
            ((calls,),) = await asyncio.to_thread(query, db, "SELECT count(*) FROM calls")
            counts = await asyncio.to_thread(status_counts, db)
            if calls >= CALLS and not counts["queued"] + counts["sending"]:
                return
            await asyncio.sleep(0.02)


async def test_sighup_during_a_100_calls_per_second_replay(tmp_path: Path) -> None:
    """0 calls lost, none texted twice; calls that end after the reload get the new text,
    calls that ended before it the old one."""
    db = tmp_path / "textback.db"
    await upgrade(sqlite_url(db))
    traces = load_traces()
    work = build_workload(traces, CALLS, rate=RATE, start_at=time.time(), max_gap=0.2)
    web_port = _free_port()
    path = tmp_path / "textback.toml"
    async with BodyGateway() as gateway, AmiServer({AMI_USER: AMI_SECRET}) as server:
        args = {
            "ami_port": server.port,
            "gateway_url": gateway.url,
            "database_url": sqlite_url(db),
            "web_port": web_port,
        }
        config(path, marker="OLD", **args)
        service = ServiceProcess(path, tmp_path / "service.log", cli_args=("-v",), forked=True)
        try:
            await service.start()
            await wait_logged_in(server, service)
            streamer = PausingStreamer(server, work.frames)
            streaming = asyncio.create_task(streamer.run())
            async with asyncio.timeout(60):
                while streamer.written < len(work.frames) // 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
            config(path, marker="NEW", **args)
            assert service.proc is not None
            asked_at, asked_written = time.monotonic(), streamer.written
            service.proc.send_signal(signal.SIGHUP)
            async with asyncio.timeout(30):
                while (await _reloads(web_port)).get("applied") != 1:
                    assert service.alive, service.log_tail()
                    await asyncio.sleep(0.01)
            reload_seconds = time.monotonic() - asked_at
            applied_written = streamer.written
            assert not streaming.done(), "the replay ended before the reload: make it longer"
            await streaming
            await _all_recorded_and_sent(db)
            assert await service.signal(signal.SIGTERM) == 0, service.log_tail()
        finally:
            await service.ensure_stopped()

    # 0 calls lost: every call of the replay is stored once.
    index_of = {lid: i for i, lid in work.linkedids.items()}
    stored = [index_of[lid] for (lid,) in query(db, "SELECT linkedid FROM calls")]
    assert sorted(stored) == list(range(CALLS))
    # Texted once each, and the same kinds of calls texted before and after the reload.
    assert status_counts(db) == {"sent": len(gateway.texts)}
    assert len({t.key for t in gateway.texts}) == len(gateway.texts)
    texted_by_trace: dict[int, set[bool]] = defaultdict(set)
    texted = {t.to[-10:] for t in gateway.texts}
    for i in range(CALLS):
        texted_by_trace[i % len(traces)].add(work.numbers.get(i) in texted)
    assert all(len(kinds) == 1 for kinds in texted_by_trace.values()), texted_by_trace
    # Calls whose hang-up was sent after the reload use the new template; those that hung up
    # before SIGHUP was sent, the old one (each call keeps the config it ended under, even
    # while it waits in the recorder's backlog).
    body_of = {t.to[-10:]: t.body.split()[0] for t in gateway.texts}
    marker = {i: body_of[n] for i, n in work.numbers.items() if n in body_of}
    after = [i for i in marker if work.final_hangup[i] >= applied_written]
    before = [i for i in marker if work.final_hangup[i] < asked_written]
    assert after
    assert before
    assert {marker[i] for i in after} == {"NEW"}
    assert {marker[i] for i in before} == {"OLD"}
    old = sum(1 for m in marker.values() if m == "OLD")
    print(
        f"\nSIGHUP at frame {asked_written}/{len(work.frames)}: applied within "
        f"{reload_seconds * 1000:.0f} ms (health poll); {CALLS} calls stored of {CALLS}; "
        f"{len(gateway.texts)} texts ({old} OLD, {len(marker) - old} NEW), 0 duplicates; "
        f"{sum(1 for i in before if marker[i] == 'OLD')}/{len(before)} calls ended before "
        "SIGHUP got OLD"
    )
