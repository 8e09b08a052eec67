"""Graceful shutdown of ``run`` (SIGTERM): exit 0, every finished call recorded, nothing lost.

Texts waiting for their send time stay queued across the restart and then go out once; a
text in the provider's hands at SIGTERM is finished, the rest of its batch is put back.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.store.schema import upgrade
from tests.pipeline.support import (
    AMI_SECRET,
    AMI_USER,
    PBX_NAME,
    FakeGateway,
    ServiceProcess,
    Workload,
    build_workload,
    load_traces,
    query,
    sqlite_url,
    status_counts,
    wait_logged_in,
    write_config,
)

#: Texts wait this long after the call: SIGTERM comes well before any is due (the stream,
#: the processing and the stop take 1-2 s; the check below fails the test if they took
#: longer than this), and the restarted service then waits out the rest.
SEND_DELAY = 6.0
CALLS = 45
#: Calls from this index on are still in progress when SIGTERM arrives.
FINISHED = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cut(work: Workload) -> tuple[int, set[int], set[int]]:
    """Where to stop streaming: (frame count, calls ended before it, calls still open)."""
    cut = max(work.final_hangup[i] for i in range(FINISHED)) + 1
    ended = {i for i, pos in work.final_hangup.items() if pos < cut}
    started = {i for i, pos in work.first_frame.items() if pos < cut and i not in ended}
    return cut, ended, started


async def _health(port: int) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as resp,
    ):
        data: dict[str, Any] = await resp.json()
        return data


async def _wait_processed(port: int, *, ended: int, open_calls: int) -> dict[str, Any]:
    """Wait until the service has read every streamed frame (per its /healthz counters)."""
    async with asyncio.timeout(30):
        while True:
            try:
                health = await _health(port)
            except aiohttp.ClientError:
                health = {}
            handed = health.get("calls_recorded", 0) + health.get("record_backlog", 0)
            if handed >= ended and health.get("calls_open") == open_calls:
                return health
            await asyncio.sleep(0.01)


async def test_sigterm_keeps_delayed_texts_queued_and_records_finished_calls(
    tmp_path: Path,
) -> None:
    """Exit 0; ended calls stored; delayed texts queued (none sending); sent once after restart."""
    db = tmp_path / "textback.db"
    await upgrade(sqlite_url(db))
    work = build_workload(load_traces(), CALLS, rate=50.0, start_at=time.time(), max_gap=0.2)
    cut, ended, open_calls = _cut(work)
    assert open_calls, "the cut must leave calls mid-way"
    web_port = _free_port()
    async with FakeGateway() as gateway, AmiServer({AMI_USER: AMI_SECRET}) as server:
        config = write_config(
            tmp_path / "textback.toml",
            ami_port=server.port,
            gateway_url=gateway.url,
            database_url=sqlite_url(db),
            suppression={"send_delay_seconds": SEND_DELAY},
            web_port=web_port,
        )
        service = ServiceProcess(config, tmp_path / "service.log", forked=True)
        try:
            await service.start()
            await wait_logged_in(server, service)
            await server.stream(work.frames[:cut])
            await _wait_processed(web_port, ended=len(ended), open_calls=len(open_calls))
            stopped_at = time.time()
            code = await service.signal(signal.SIGTERM)
            assert code == 0, service.log_tail()

            stored = {lid for (lid,) in query(db, "SELECT linkedid FROM calls")}
            assert stored == {work.linkedids[i] for i in ended}
            messages = query(db, "SELECT idempotency_key, status, send_at FROM messages")
            assert messages, "some finished calls should have been texted"
            assert {status for _, status, _ in messages} == {"queued"}
            assert all(
                key.startswith(f"{PBX_NAME}:") and key.split(":")[1] in stored
                for key, _, _ in messages
            )
            assert gateway.requests == []
            assert time.time() - stopped_at < SEND_DELAY  # the check above was not too late

            await service.start()
            await wait_logged_in(server, service)
            async with asyncio.timeout(SEND_DELAY + 60):
                while len(gateway.keys) < len(messages):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # room for a duplicate to show up
            assert await service.signal(signal.SIGTERM) == 0, service.log_tail()
        finally:
            await service.ensure_stopped()
    assert dict(gateway.keys) == {key: 1 for key, _, _ in messages}
    assert status_counts(db) == {"sent": len(messages)}


async def test_sigterm_finishes_the_text_in_hand_and_requeues_the_rest(tmp_path: Path) -> None:
    """A slow provider mid-batch at SIGTERM: each text ends sent (once) or queued, none sending."""
    db = tmp_path / "textback.db"
    await upgrade(sqlite_url(db))
    work = build_workload(load_traces(), CALLS, rate=200.0, start_at=time.time(), max_gap=0.1)
    async with FakeGateway(delay=0.3) as gateway, AmiServer({AMI_USER: AMI_SECRET}) as server:
        config = write_config(
            tmp_path / "textback.toml",
            ami_port=server.port,
            gateway_url=gateway.url,
            database_url=sqlite_url(db),
            dispatch={"workers": 1, "batch_size": 50},
            # 10/s: each text is its own wave (texts whose rate slots fall within 50 ms leave
            # together), so at SIGTERM one text is in hand and the rest of the batch is not.
            provider={"rate_per_second": 10},
        )
        service = ServiceProcess(config, tmp_path / "service.log", forked=True)
        try:
            await service.start()
            await wait_logged_in(server, service)
            await server.stream(work.frames)
            async with asyncio.timeout(30):
                while len(gateway.requests) < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            assert await service.signal(signal.SIGTERM) == 0, service.log_tail()
            first = status_counts(db)
            received = dict(gateway.keys)
            assert set(first) <= {"sent", "queued"}, first
            assert first["sent"] == len(received), first
            assert first["queued"] > 0, first
            assert all(n == 1 for n in received.values())

            # The slow provider mattered at SIGTERM; the requeued rest may now go at the
            # rate limit instead of 0.3 s each (it is how many go out, and how often, that
            # is checked).
            gateway.delay = 0.0
            await service.start()
            await wait_logged_in(server, service)
            total = first["sent"] + first["queued"]
            async with asyncio.timeout(60):
                while len(gateway.keys) < total:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            assert await service.signal(signal.SIGTERM) == 0, service.log_tail()
        finally:
            await service.ensure_stopped()
    assert gateway.duplicates() == {}
    assert len(gateway.keys) == total
    assert status_counts(db) == {"sent": total}
