"""``bench/tenants.py``'s send and failover parts: 200 tenants over 50 PBX links.

send: ``--tenants`` tenants (default 200) in one PostgreSQL database (a schema each,
migrated as ``db upgrade`` does), hosted by one ``python -m asterisk_textback run``
(``app.host.serve_tenants``) as ``tenants.d/<id>.toml`` files beside a main config that is
not a business (``tenants.main_business = false``). ``--links`` built-in AMI servers
(``ami.sim``, default 50) run in a process of their own, each shared by ``tenants / links``
tenants (4 by default) told apart by their ``[tenant] dids``: each tenant follows its
server with its own AMI link and records only the calls to its DID. Each tenant texts
from its own number through the ``webhook`` provider to a fake gateway in this process.

The servers stream ``--send-calls`` calls (default 3,000) at ``--rate`` calls/s in all
(default 100), each server its share at the recorded pace, the calls cloned from the
recorded traces with DID 5550100 (answered, missed with and without voicemail, busy,
anonymous), each call given its tenant's DID and a caller number of its own (matched at the
gateway). ``send_p99_ms``: per text, from the AMI server writing the call's last Hangup
frame to the gateway receiving its request (both ``time.time()``), the 99th percentile.
No text may arrive twice (checked).

failover: lane E's ``bench/failover_support.py`` measures it when present; otherwise the
figure is ``nan`` (said on the line before the last).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import multiprocessing as mp
import re
import signal
import statistics
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.ami.sim.workload import call_stream, caller_number
from asterisk_textback.store.schema import upgrade
from bench.tenants import create_database, drop_database, tenant_ids
from tests.pipeline.support import (
    AMI_SECRET,
    AMI_USER,
    TRACES,
    FakeGateway,
    ServiceProcess,
    load_traces,
    unique_number,
)

#: The traces' DID: each cloned call gets its tenant's instead.
TRACE_DID = b"5550100"
#: Quiet stretches (voicemail greetings and messages) cut to this many seconds.
MAX_GAP = 3.0
_ID_RE = re.compile(rb"^[A-Za-z]*(?:Uniqueid|Linkedid): \d+\.\d*?(\d{6})\r$", re.MULTILINE)
_HANGUP = b"Event: Hangup\r\n"
_TIMEOUT = 600.0


def tenant_did(index: int) -> str:
    """Tenant ``index``'s DID (7 digits, as the traces' own)."""
    return f"77{index:05d}"


def sender(index: int) -> str:
    """Tenant ``index``'s own sender number (a STOP to it is that tenant's alone)."""
    return f"+1555{index:07d}"


@dataclass(slots=True)
class LinkWork:
    """One AMI server's frames, and which caller number each call's last Hangup ends."""

    frames: list[bytes] = field(default_factory=list)
    #: Frame position of a call's last Hangup -> the call's caller number.
    hangups: dict[int, str] = field(default_factory=dict)
    calls: int = 0


def link_work(
    traces: Sequence[Sequence[bytes]],
    calls: int,
    *,
    link: int,
    links: int,
    dids: Sequence[str],
    rate: float,
    start_at: float,
) -> LinkWork:
    """Server ``link``'s calls: call j goes to ``dids[j % len(dids)]``, caller number unique
    across all servers (``unique_number(j * links + link)``)."""
    frames = call_stream(
        traces,
        calls,
        rate=rate,
        start_at=start_at,
        seed=link,
        fresh_numbers=False,
        max_gap=MAX_GAP,
    )
    originals = [caller_number(t) for t in traces]
    work = LinkWork(calls=calls)
    last: dict[int, int] = {}
    for frame in frames:
        match = _ID_RE.search(frame)
        if match is not None:
            j = int(match.group(1)) - 1  # clone k of call j is j + 1 (call_stream)
            old = originals[j % len(traces)]
            if old is not None and len(old) >= 10:
                frame = frame.replace(old, unique_number(j * links + link).encode())
            frame = frame.replace(TRACE_DID, dids[j % len(dids)].encode())
            if frame.startswith(_HANGUP):
                last[j] = len(work.frames)
        work.frames.append(frame)
    for j, position in last.items():
        old = originals[j % len(traces)]
        if old is not None and len(old) >= 10:
            work.hangups[position] = unique_number(j * links + link)
    return work


def _send_traces() -> list[list[bytes]]:
    """The recorded calls to DID 5550100 (every inbound kind but queues and ring groups)."""
    return [t for t in load_traces() if any(TRACE_DID in f for f in t[:40])]


def expected_texts(calls: int, links: int) -> int:
    """How many of the calls are texted: missed, with a caller number (per the manifest)."""
    manifest = json.loads((TRACES / "manifest.json").read_text())
    texted = []
    for path in sorted(TRACES.glob("*.ami")):
        if any(TRACE_DID in f for f in read_trace(path)[:40]):
            (call,) = manifest["traces"][path.name]["calls"]
            missed = call["outcome"].startswith("missed")
            texted.append(missed and len(call["caller_number"]) >= 10)
    shares = [calls // links + (1 if i < calls % links else 0) for i in range(links)]
    return sum(texted[j % len(texted)] for share in shares for j in range(share))


# -- the AMI servers' process ----------------------------------------------------------------


def _servers_process(pipe: Connection, links: int, per_link: int, calls: int, rate: float) -> None:
    try:
        asyncio.run(_serve(pipe, links, per_link, calls, rate))
    except BaseException:
        pipe.send(RuntimeError(f"AMI servers process failed:\n{traceback.format_exc()}"))
        raise


async def _serve(pipe: Connection, links: int, per_link: int, calls: int, rate: float) -> None:
    servers = [AmiServer({AMI_USER: AMI_SECRET}) for _ in range(links)]
    for server in servers:
        await server.start()
    try:
        pipe.send([s.port for s in servers])
        async with asyncio.timeout(_TIMEOUT):
            for server in servers:
                await server.wait_logged_in(per_link)
        traces = _send_traces()
        start = time.time() + 2.0
        shares = [calls // links + (1 if i < calls % links else 0) for i in range(links)]
        works = [
            link_work(
                traces,
                shares[i],
                link=i,
                links=links,
                rate=rate / links,
                start_at=start,
                dids=[tenant_did(i * per_link + k) for k in range(per_link)],
            )
            for i in range(links)
        ]
        written: dict[str, float] = {}

        def recorder(work: LinkWork) -> Any:
            def on_written(index: int, at: float) -> None:
                number = work.hangups.get(index)
                if number is not None:
                    written[number] = at

            return on_written

        pipe.send("streaming")
        await asyncio.gather(
            *(
                s.stream(w.frames, pace=True, on_written=recorder(w))
                for s, w in zip(servers, works, strict=True)
            )
        )
        pipe.send(written)
        pipe.recv()  # the PBXes stay up until the parent is done
    finally:
        for server in servers:
            await server.stop()


async def _recv(
    pipe: Connection, proc: mp.process.BaseProcess, service: ServiceProcess | None
) -> Any:
    loop = asyncio.get_running_loop()
    while not await loop.run_in_executor(None, pipe.poll, 0.5):
        if not proc.is_alive() and not pipe.poll():
            raise RuntimeError(f"the AMI servers process died (exit code {proc.exitcode})")
        if service is not None and not service.alive:
            raise RuntimeError(f"the service exited:\n{service.log_tail()}")
    got = pipe.recv()
    if isinstance(got, RuntimeError):
        raise got
    return got


# -- the install -----------------------------------------------------------------------------


def write_install(folder: Path, url: str, gateway: str, ports: Sequence[int], tenants: int) -> Path:
    """The main config (the install, not a business) and one file per tenant; the main one."""
    per_link = tenants // len(ports)
    main = folder / "textback.toml"
    main.write_text(
        f'[database]\nurl = "{url}"\n'
        "[tenants]\nmain_business = false\n"
        "[web]\nenabled = false\n"
        f'[pbx]\nhost = "127.0.0.1"\nusername = "{AMI_USER}"\nsecret = "{AMI_SECRET}"\n'
        "reconnect_min = 0.05\nreconnect_max = 0.5\n"
        "[suppression]\ncooldown_hours = 0\ndaily_cap = 100\nglobal_rate_per_minute = 0\n"
        "per_prefix_rate_per_minute = 0\nquiet_hours = false\nmisdial_min_seconds = 0\n"
        "send_delay_seconds = 0\n"
        '[provider]\nname = "webhook"\nrate_per_second = 100000\n'
        f'[provider.webhook]\nurl = "{gateway}"\ntimeout_seconds = 5\n'
        "[dispatch]\npoll_seconds = 1.0\n"
    )
    folder.joinpath("tenants.d").mkdir()
    for index, tenant in enumerate(tenant_ids(tenants)):
        folder.joinpath("tenants.d", f"{tenant}.toml").write_text(
            f'[pbx]\nport = {ports[index // per_link]}\nname = "link{index // per_link}"\n'
            f'[tenant]\nname = "Business {index}"\ndids = ["{tenant_did(index)}"]\n'
            f'[provider]\ndefault_sender = "{sender(index)}"\n'
            f'[business]\nname = "Business {index}"\n'
        )
    return main


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def send_latencies(args: argparse.Namespace, workdir: Path) -> list[float]:
    """Run the install against the servers; milliseconds from last Hangup to the gateway."""
    if args.tenants % args.links:
        raise SystemExit("--tenants must be a multiple of --links (the same tenants per link)")
    per_link = args.tenants // args.links
    url = args.database_url
    began = time.perf_counter()
    await upgrade(url)
    for tenant in tenant_ids(args.tenants):
        await upgrade(url, tenant=tenant)
    print(f"send: {args.tenants} tenant schemas migrated in {time.perf_counter() - began:.1f} s")
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=_servers_process,
        args=(child, args.links, per_link, args.send_calls, args.rate),
        daemon=True,
    )
    proc.start()
    try:
        ports = await _recv(parent, proc, None)
        async with FakeGateway() as gateway:
            main = write_install(workdir, url, gateway.url, ports, args.tenants)
            wrapper = () if args.service_wrapper is None else (str(args.service_wrapper),)
            service = ServiceProcess(main, workdir / "run.log", python_args=wrapper)
            started = time.perf_counter()
            await service.start()
            try:
                await _recv(parent, proc, service)  # every tenant logged in
                print(
                    f"send: {args.tenants} tenants on {args.links} links logged in after "
                    f"{time.perf_counter() - started:.1f} s"
                )
                written: dict[str, float] = await _recv(parent, proc, service)
                seen = -1
                while seen != len(gateway.requests):  # the last texts follow the last hangup
                    seen = len(gateway.requests)
                    await asyncio.sleep(3.0)
                await _stop(service)
            finally:
                await service.ensure_stopped()
        parent.send("done")
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    errors = _errors(workdir / "run.log")
    if errors:
        print(f"send: the service logged {sum(errors.values())} errors; the most frequent:")
        for line, n in errors.most_common(3):
            print(f"  {n} x {line}")
    if gateway.duplicates():
        raise RuntimeError(f"{len(gateway.duplicates())} texts were sent twice")
    latencies = [
        (r.at - written[r.to.removeprefix("+1")]) * 1000.0
        for r in gateway.requests
        if r.to.removeprefix("+1") in written
    ]
    expected = expected_texts(args.send_calls, args.links)
    print(
        f"send: {args.send_calls} calls, {len(gateway.requests)} texts at the gateway of "
        f"{expected} expected, {len(latencies)} matched to their call's hangup"
    )
    return latencies


async def _stop(service: ServiceProcess) -> None:
    """SIGTERM, as systemd stops ``run``; said (not fatal) when it takes too long."""
    began = time.perf_counter()
    try:
        code = await service.signal(signal.SIGTERM)
    except TimeoutError:
        print("send: run did not stop within 30 s of SIGTERM (killed)")
        return
    print(f"send: run stopped in {time.perf_counter() - began:.1f} s (exit code {code})")


def _errors(log: Path) -> Counter[str]:
    """The service's ERROR lines, without their times, counted."""
    found: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if " ERROR " in line or line.startswith("sqlalchemy.exc."):
            found[line.split(" ERROR ", 1)[-1][:160]] += 1
    return found


def send_part(args: argparse.Namespace) -> float:
    """The send p99 in ms (a fresh database, dropped afterwards)."""
    asyncio.run(create_database(args.database_url))
    try:
        with tempfile.TemporaryDirectory(prefix="textback-tenants-") as tmp:
            latencies = asyncio.run(send_latencies(args, Path(tmp)))
    finally:
        if not args.keep:
            asyncio.run(drop_database(args.database_url))
    if not latencies:
        raise RuntimeError("no text reached the gateway")
    p99 = percentile(latencies, 0.99)
    print(
        f"send latency ms: p50={percentile(latencies, 0.5):.1f} "
        f"p90={percentile(latencies, 0.9):.1f} p99={p99:.1f} max={max(latencies):.1f} "
        f"mean={statistics.fmean(latencies):.1f}"
    )
    return p99


def failover_part(args: argparse.Namespace) -> float:
    """Seconds until every link is owned again after a SIGKILL (lane E's measure), or nan.

    Three ``run`` instances with ``[cluster]`` on (the production lease of 15 s, renewed
    every 5 s) share ``--failover-links`` links; the one holding the most is SIGKILLed.
    """
    try:
        support = importlib.import_module("bench.failover_support")
    except ImportError:
        print("failover: not measured (bench/failover_support.py is not in this tree)")
        return float("nan")
    asyncio.run(create_database(args.database_url))
    try:
        with tempfile.TemporaryDirectory(prefix="textback-failover-") as tmp:
            seconds, lost, duplicates = asyncio.run(
                support.measure_failover(
                    args.database_url,
                    Path(tmp),
                    links=args.failover_links,
                    lease_seconds=15.0,
                    renew_seconds=5.0,
                )
            )
    finally:
        if not args.keep:
            asyncio.run(drop_database(args.database_url))
    print(
        f"failover: every link owned again after {seconds:.1f} s; "
        f"lost={lost} duplicates={duplicates}"
    )
    if lost or duplicates:
        raise RuntimeError(f"failover lost {lost} calls and texted {duplicates} twice")
    return float(seconds)
