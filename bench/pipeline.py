"""Pipeline benchmark: real traces at a paced 100 calls/s through ``run`` to a local HTTP fake.

Run from a checkout: ``python bench/pipeline.py --db sqlite`` or ``--db postgresql`` (see
README.md). Three processes on 127.0.0.1: an :class:`AmiServer` process streams the cloned
calls at their recorded pace, the service runs as ``python -m asterisk_textback run``, and
this process hosts the fake SMS gateway and does the bookkeeping. Send latency is from the
AMI server writing a call's last Hangup frame to the gateway receiving that call's text
(matched by caller number, unique per call); both sides stamp ``time.time()``.

A second phase measures the outbox and dispatcher alone: N texts are queued in a fresh
database before the service starts, and the drain rate at the gateway is texts/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))  # a plain checkout: the package need not be installed

import asyncpg  # type: ignore[import-untyped]  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from asterisk_textback.ami.sim.server import AmiServer  # noqa: E402
from asterisk_textback.outbox.status import MessageStatus  # noqa: E402
from asterisk_textback.store.engine import create_engine, create_session_factory  # noqa: E402
from asterisk_textback.store.models import Call, Message  # noqa: E402
from asterisk_textback.store.schema import upgrade  # noqa: E402
from bench.dashboard_load import TOKEN, TOKEN_ENV, Load, free_port, run_load  # noqa: E402
from tests.pipeline.support import (  # noqa: E402
    AMI_SECRET,
    AMI_USER,
    SENDER,
    FakeGateway,
    ServiceProcess,
    build_workload,
    load_traces,
    write_config,
)

PG_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
#: Voicemail greetings and messages are cut to this many quiet seconds (as in the demo).
MAX_GAP = 3.0
_TIMEOUT = 300.0


# -- the AMI server process ------------------------------------------------------------------


@dataclass(slots=True)
class Streamed:
    """What the AMI server process reports: when each call's first and last frames left."""

    calls: int
    #: Caller number -> epoch when its call's last Hangup frame was written.
    hangup_written: dict[str, float] = field(default_factory=dict)
    first_written: dict[int, float] = field(default_factory=dict)


def _server_process(pipe: Connection, calls: int, rate: float) -> None:
    try:
        asyncio.run(_serve(pipe, calls, rate))
    except BaseException:
        pipe.send(RuntimeError(f"AMI server process failed:\n{traceback.format_exc()}"))
        raise


async def _serve(pipe: Connection, calls: int, rate: float) -> None:
    # Timestamps start now (before the clone work), so no call looks like it ends in the
    # future: the policy sends at max(now, call end + delay).
    work = build_workload(load_traces(), calls, rate=rate, start_at=time.time(), max_gap=MAX_GAP)
    last_of = {pos: work.numbers[i] for i, pos in work.final_hangup.items() if i in work.numbers}
    first_of = {pos: i for i, pos in work.first_frame.items()}
    result = Streamed(calls=calls)

    def on_written(index: int, at: float) -> None:
        number = last_of.get(index)
        if number is not None:
            result.hangup_written[number] = at
        call = first_of.get(index)
        if call is not None:
            result.first_written[call] = at

    async with AmiServer({AMI_USER: AMI_SECRET}) as server:
        pipe.send(server.port)
        async with asyncio.timeout(_TIMEOUT):
            await server.wait_logged_in()
        await server.stream(work.frames, pace=True, on_written=on_written)
        pipe.send(result)
        pipe.recv()  # keep the PBX up until the parent is done


# -- databases -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def database(kind: str, pg_server: str) -> AsyncIterator[str]:
    """A fresh, migrated database of ``kind``; removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="textback-bench-") as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'textback.db'}"
            await upgrade(url)
            yield url
        return
    server = make_url(pg_server)
    dsn = server.set(drivername="postgresql", database="postgres").render_as_string(False)
    name = f"textback_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(dsn, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = server.set(database=name).render_as_string(hide_password=False)
        try:
            await upgrade(url)
            yield url
        finally:
            opened = await admin.fetchval(
                "SELECT sessions FROM pg_stat_database WHERE datname = $1", name
            )
            print(f"  postgresql connections opened on {name} (service and bench): {opened}")
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _statuses(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            rows = await session.execute(
                select(Message.status, func.count()).group_by(Message.status)
            )
            return {str(status): int(n) for status, n in rows.all()}
    finally:
        await engine.dispose()


async def _queue_texts(url: str, count: int) -> None:
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [
        {
            "idempotency_key": f"bench:{i}:textback",
            "kind": "textback",
            "to_e164": f"+1{2000000000 + i}",
            "sender": SENDER,
            "body": "Sorry we missed your call! Reply here or book: https://acme.example/book",
            "segments": 1,
            "encoding": "GSM-7",
            "status": MessageStatus.QUEUED,
            "send_at": now,
            "expires_at": now + timedelta(hours=1),
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            for start in range(0, count, 5000):
                await session.execute(insert(Message), rows[start : start + 5000])
    finally:
        await engine.dispose()


# -- phases ----------------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _recv(
    pipe: Connection, proc: mp.process.BaseProcess, service: ServiceProcess | None = None
) -> Any:
    loop = asyncio.get_running_loop()
    while not await loop.run_in_executor(None, pipe.poll, 0.5):
        if not proc.is_alive() and not pipe.poll():
            raise RuntimeError(f"the AMI server process died (exit code {proc.exitcode})")
        if service is not None and not service.alive:
            raise RuntimeError(f"the service exited:\n{service.log_tail()}")
    got = pipe.recv()
    if isinstance(got, RuntimeError):
        raise got
    return got


@dataclass(frozen=True, slots=True)
class PipelineResult:
    """The figures of the paced run."""

    calls_per_s: float
    latencies_ms: list[float]
    #: Per text (ms): hangup -> recorder picks the call up -> worker claims it -> gateway.
    stages: list[tuple[float, float, float]]
    texts: int
    statuses: dict[str, int]


@dataclass(frozen=True, slots=True)
class Stamps:
    """One text's service-side timestamps (epoch seconds), read back from the database."""

    #: The recorder picked the call up (``calls.created_at``).
    decided: float
    #: A dispatcher worker claimed the text (``messages.claimed_at``).
    claimed: float


async def _stamps(url: str) -> dict[str, Stamps]:
    """Caller number (10 digits) -> when the recorder and the dispatcher handled its text."""
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            rows = await session.execute(
                select(Message.to_e164, Call.created_at, Message.claimed_at).join(
                    Call, Message.call_id == Call.id
                )
            )
            return {
                to.removeprefix("+1"): Stamps(decided.timestamp(), claimed.timestamp())
                for to, decided, claimed in rows.all()
                if claimed is not None
            }
    finally:
        await engine.dispose()


async def pipeline_phase(
    url: str,
    calls: int,
    rate: float,
    workdir: Path,
    profile: Path | None,
    load: Load | None = None,
) -> PipelineResult:
    """Paced calls through the whole service; per-call send latency.

    With ``load``: the web server on, and three-year KPI reports requested back to back
    (``bench/dashboard_load.py``) while the calls stream; ``load`` collects what they did.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_server_process, args=(child, calls, rate), daemon=True)
    proc.start()
    try:
        port = await _recv(parent, proc)
        async with FakeGateway() as gateway:
            web_port = None if load is None else free_port()
            config = write_config(
                workdir / "pipeline.toml",
                ami_port=port,
                gateway_url=gateway.url,
                database_url=url,
                dispatch={"poll_seconds": 1.0},
                web_port=web_port,
            )
            service = ServiceProcess(
                config, workdir / "pipeline.log", python_args=_profiler(profile)
            )
            os.environ[TOKEN_ENV] = TOKEN
            await service.start()
            stop_load = asyncio.Event()
            loading = None
            if load is not None and web_port is not None:
                loading = asyncio.create_task(run_load(web_port, stop_load, load))
            try:
                streamed: Streamed = await _recv(parent, proc, service)
                # Wait for the gateway to go quiet: the last texts follow the last hangup.
                seen = -1
                while seen != len(gateway.requests):
                    seen = len(gateway.requests)
                    await asyncio.sleep(2.0)
                stop_load.set()
                if loading is not None:
                    await loading
                code = await service.signal(signal.SIGTERM)
                if code != 0:
                    raise RuntimeError(f"run exited {code}:\n{service.log_tail()}")
            finally:
                await service.ensure_stopped()
        parent.send("done")
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    latencies = []
    stages = []
    stamps = await _stamps(url)
    for received in gateway.requests:
        number = received.to.removeprefix("+1")
        written = streamed.hangup_written.get(number)
        if written is not None:
            latencies.append((received.at - written) * 1000.0)
            at = stamps.get(number)
            if at is not None:
                stages.append(
                    (
                        (at.decided - written) * 1000.0,
                        (at.claimed - at.decided) * 1000.0,
                        (received.at - at.claimed) * 1000.0,
                    )
                )
    firsts = sorted(streamed.first_written.values())
    span = firsts[-1] - firsts[0]
    return PipelineResult(
        calls_per_s=(len(firsts) - 1) / span if span > 0 else 0.0,
        latencies_ms=latencies,
        stages=stages,
        texts=len(gateway.requests),
        statuses=await _statuses(url),
    )


def _profiler(profile: Path | None) -> tuple[str, ...]:
    """Interpreter arguments that profile the service into ``profile`` (None: none)."""
    if profile is None:
        return ()
    if profile.suffix == ".json":
        return (str(Path(__file__).with_name("pipeline_probe.py")), str(profile))
    return ("-m", "cProfile", "-o", str(profile))


async def throughput_phase(
    url: str, texts: int, workdir: Path, profile: Path | None
) -> tuple[float, float]:
    """Drain ``texts`` pre-queued texts through ``run``; (texts/s first→last, seconds)."""
    await _queue_texts(url, texts)
    async with FakeGateway() as gateway, AmiServer({AMI_USER: AMI_SECRET}) as server:
        config = write_config(
            workdir / "throughput.toml",
            ami_port=server.port,
            gateway_url=gateway.url,
            database_url=url,
            dispatch={"poll_seconds": 1.0},
        )
        service = ServiceProcess(config, workdir / "throughput.log", python_args=_profiler(profile))
        await service.start()
        try:
            async with asyncio.timeout(_TIMEOUT):
                while len(gateway.requests) < texts:
                    if not service.alive:
                        raise RuntimeError(f"run died:\n{service.log_tail()}")
                    await asyncio.sleep(0.05)
            code = await service.signal(signal.SIGTERM)
            if code != 0:
                raise RuntimeError(f"run exited {code}:\n{service.log_tail()}")
        finally:
            await service.ensure_stopped()
    if gateway.duplicates():
        raise RuntimeError(f"{len(gateway.duplicates())} texts were sent twice")
    first = gateway.requests[0].at
    last = gateway.requests[-1].at
    return (texts - 1) / (last - first), last - first


async def main_async(args: argparse.Namespace) -> None:
    """Both phases on one kind of database; prints the figures."""
    with tempfile.TemporaryDirectory(prefix="textback-bench-run-") as tmp:
        workdir = Path(tmp)
        async with database(args.db, args.pg_url) as url:
            result = await pipeline_phase(url, args.calls, args.rate, workdir, args.profile)
        if args.with_dashboard_load:
            load = Load()
            async with database(args.db, args.pg_url) as url:
                loaded = await pipeline_phase(
                    url, args.calls, args.rate, workdir, args.profile, load
                )
            _print_load(result, loaded, load, args.db)
        per_s, seconds = 0.0, 0.0
        if args.texts:
            async with database(args.db, args.pg_url) as url:
                profile = args.profile
                if profile is not None:
                    profile = profile.with_stem(profile.stem + "-throughput")
                per_s, seconds = await throughput_phase(url, args.texts, workdir, profile)
    lat = result.latencies_ms
    if not lat:
        raise RuntimeError("no text reached the gateway")
    print(
        f"pipeline: {args.calls} calls, {result.texts} texts received, outbox {result.statuses}; "
        f"send latency ms: p50={_percentile(lat, 0.5):.1f} p90={_percentile(lat, 0.9):.1f} "
        f"p99={_percentile(lat, 0.99):.1f} max={max(lat):.1f} mean={statistics.fmean(lat):.1f}"
    )
    _print_stages(result.stages)
    print(f"throughput: {args.texts} pre-queued texts drained in {seconds:.2f}s")
    print(f"throughput texts_per_s={per_s:.0f} db={args.db}")
    print(
        f"pipeline calls_per_s={result.calls_per_s:.1f} send_p50_ms={_percentile(lat, 0.5):.1f} "
        f"send_p99_ms={_percentile(lat, 0.99):.1f} db={args.db}"
    )


def _print_load(idle: PipelineResult, loaded: PipelineResult, load: Load, db: str) -> None:
    """Send latency idle vs under dashboard load, and /healthz while the reports ran."""
    if not loaded.latencies_ms or not load.healthz_ms:
        raise RuntimeError("the loaded run sent no text or never reached /healthz")
    reports = sorted(load.report_seconds) or [0.0]
    idle_p99 = _percentile(idle.latencies_ms, 0.99)
    p99 = _percentile(loaded.latencies_ms, 0.99)
    print(
        f"dashboard load: {load.reports} three-year KPI reports ({load.report_errors} errors, "
        f"p50 {_percentile(reports, 0.5):.2f}s), /healthz ms: "
        f"p50={_percentile(load.healthz_ms, 0.5):.1f} p99={_percentile(load.healthz_ms, 0.99):.1f} "
        f"max={max(load.healthz_ms):.1f} (n={len(load.healthz_ms)})"
    )
    print(
        f"dashboard_load send_p50_ms={_percentile(loaded.latencies_ms, 0.5):.1f} "
        f"send_p99_ms={p99:.1f} idle_send_p99_ms={idle_p99:.1f} "
        f"ratio_p99={p99 / idle_p99:.2f} healthz_max_ms={max(load.healthz_ms):.1f} db={db}"
    )
    print("  under load:")
    _print_stages(loaded.stages)


_STAGES = ("hangup -> recorder", "recorder -> claimed", "claimed -> gateway")


def _print_stages(stages: Sequence[tuple[float, float, float]]) -> None:
    """Each stage's p50/p99/max, and the slowest texts split by stage (where time went)."""
    for i, name in enumerate(_STAGES):
        part = [s[i] for s in stages]
        print(
            f"  {name}: p50={_percentile(part, 0.5):.1f} p99={_percentile(part, 0.99):.1f} "
            f"max={max(part):.1f} ms"
        )
    for slow in sorted(stages, key=sum, reverse=True)[:3]:
        split = ", ".join(f"{name} {ms:.1f}" for name, ms in zip(_STAGES, slow, strict=True))
        print(f"  slow text {sum(slow):.1f} ms: {split}")


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--calls", type=int, default=2000, help="calls in the paced run")
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second")
    parser.add_argument("--texts", type=int, default=20_000, help="texts pre-queued")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="profile the service: FILE.json: per-await timers (pipeline_probe.py); else cProfile",
    )
    parser.add_argument("--pg-url", default=PG_SERVER, help="PostgreSQL server (no database)")
    parser.add_argument(
        "--with-dashboard-load",
        action="store_true",
        help="run the paced phase again while three-year KPI reports run; compare with idle",
    )
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
