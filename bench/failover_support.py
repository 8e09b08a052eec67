"""Failover of PBX links across ``run`` instances: SIGKILL the busiest one mid-stream.

Several real ``python -m asterisk_textback run`` processes share one PostgreSQL database
with ``[cluster]`` enabled; each PBX link is a built-in AMI server writing its CDR
(``Master.csv``) like ``cdr_csv``. Once the instances have spread the links (none holds
more than its fair share), missed calls stream on every link without pause; the
instance holding the most links is SIGKILLed; the others must own every link again (lease
taken, AMI logged in), and every call must be recorded and texted exactly once (a local
gateway counts the texts).

Used by ``tests/cluster/test_failover.py`` and by ``bench/tenants.py``
(:func:`measure_failover`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))  # a plain checkout: the package need not be installed

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine  # noqa: E402

from asterisk_textback.ami.sim.server import AmiServer  # noqa: E402
from asterisk_textback.ami.sim.tracefile import read_trace  # noqa: E402
from asterisk_textback.store.leases import ensure_tables, list_leases  # noqa: E402
from asterisk_textback.store.schema import upgrade  # noqa: E402
from tests.app.blip_support import Copy, copies  # noqa: E402
from tests.pipeline.support import (  # noqa: E402
    AMI_SECRET,
    AMI_USER,
    SENDER,
    TRACES,
    FakeGateway,
    ServiceProcess,
)

MISSED_TRACE = "ringgroup-novm-caller-hangup-ringing.ami"


@dataclass(slots=True)
class FailoverRun:
    """What one failover run measured."""

    #: Seconds from the SIGKILL until every link was held and logged in again.
    failover_seconds: float
    #: Missed calls never recorded, or never texted.
    lost: int
    #: Texts beyond one per call, and calls recorded more than once.
    duplicates: int
    calls: int
    #: Links the killed instance held.
    killed_links: int
    #: The most AMI sessions logged in at once on any one link, over the whole run.
    max_sessions: int
    #: Per link, its owner before the kill and after.
    owners_before: dict[str, str] = field(default_factory=dict)
    owners_after: dict[str, str] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)

    def line(self) -> str:
        """One line for a report."""
        return (
            f"failover links_killed={self.killed_links} calls={self.calls} "
            f"failover_s={self.failover_seconds:.1f} lost={self.lost} "
            f"duplicates={self.duplicates} max_sessions_per_link={self.max_sessions}"
        )


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _table(header: str, values: dict[str, object]) -> str:
    return "\n".join([header, *(f"{k} = {_toml(v)}" for k, v in values.items()), ""])


def write_cluster_config(
    path: Path,
    *,
    instance: str,
    pbxes: Sequence[tuple[str, int, Path]],
    gateway_url: str,
    database_url: str,
    lease_seconds: float,
    renew_seconds: float,
) -> Path:
    """A ``textback.toml`` for one instance: every PBX, ``[cluster]``, texts at once."""
    parts = []
    for index, (name, port, cdr) in enumerate(pbxes):
        pbx: dict[str, object] = {
            "name": name,
            "host": "127.0.0.1",
            "port": port,
            "username": AMI_USER,
            "secret": AMI_SECRET,
            "reconnect_min": 0.05,
            "reconnect_max": 0.5,
            "cdr_csv": str(cdr),
        }
        parts.append(_table("[pbx]" if index == 0 else "[[pbxes]]", pbx))
    sections: dict[str, dict[str, object]] = {
        "business": {"name": "Acme Plumbing", "booking_link": "https://acme.example/book"},
        "suppression": {
            "cooldown_hours": 0,
            "daily_cap": 100,
            "global_rate_per_minute": 0,
            "per_prefix_rate_per_minute": 0,
            "quiet_hours": False,
            "misdial_min_seconds": 0,
            "send_delay_seconds": 0,
        },
        "provider": {"name": "webhook", "default_sender": SENDER, "rate_per_second": 100000},
        "provider.webhook": {"url": gateway_url, "timeout_seconds": 5},
        "database": {"url": database_url},
        "dispatch": {"poll_seconds": 0.2, "instance": instance},
        "web": {"enabled": False},
        "cluster": {
            "enabled": True,
            "lease_seconds": lease_seconds,
            "renew_seconds": renew_seconds,
        },
    }
    parts += [_table(f"[{name}]", values) for name, values in sections.items()]
    path.write_text("\n".join(parts))
    return path


async def _owners(engine: AsyncEngine) -> dict[str, str]:
    """Link -> owner of its live lease."""
    return {x.link: x.owner for x in await list_leases(engine) if x.live}


async def _wait(check: object, what: str, limit: float, logs: Sequence[Path]) -> float:
    """Poll ``check`` (async, returns bool) until true; seconds taken."""
    assert callable(check)
    began = time.monotonic()
    while not await check():
        if time.monotonic() - began > limit:
            tails = "\n".join(p.read_text(errors="replace")[-1500:] for p in logs if p.exists())
            raise AssertionError(f"timed out waiting for {what}:\n{tails}")
        await asyncio.sleep(0.05)
    return time.monotonic() - began


@contextlib.asynccontextmanager
async def _servers(workdir: Path, links: int) -> AsyncIterator[list[AmiServer]]:
    async with contextlib.AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(
                AmiServer({AMI_USER: AMI_SECRET}, cdr_csv=workdir / f"Master-{i}.csv")
                # (the same paths run_failover writes into each instance's [[pbxes]])
            )
            for i in range(links)
        ]
        yield servers


async def _stream(
    server: AmiServer, trace: list[bytes], first: int, count: int, every: float, out: list[Copy]
) -> None:
    """``count`` missed calls, one every ``every`` s, each from its own caller."""
    for k in range(count):
        (call,) = copies(trace, 1, end_at=time.time(), first=first + k)
        await server.stream(call.frames)
        out.append(call)
        await asyncio.sleep(every)


async def run_failover(
    database_url: str,
    workdir: Path,
    *,
    instances: int = 3,
    links: int = 4,
    calls_per_link: int = 40,
    every: float = 0.5,
    kill_after: float = 6.0,
    lease_seconds: float = 6.0,
    renew_seconds: float = 1.5,
) -> FailoverRun:
    """The whole run on an empty database at ``database_url`` (migrated here)."""
    await upgrade(database_url)
    trace = read_trace(TRACES / MISSED_TRACE)
    engine = create_async_engine(database_url)
    await ensure_tables(engine)  # as each instance does on start; polled before they do
    names = [f"pbx-{i}" for i in range(links)]
    services: list[ServiceProcess] = []
    async with _servers(workdir, links) as servers, FakeGateway() as gateway:
        cdrs = [workdir / f"Master-{i}.csv" for i in range(links)]
        pbxes = [(n, s.port, c) for n, s, c in zip(names, servers, cdrs, strict=True)]
        for i in range(instances):
            config = write_cluster_config(
                workdir / f"node{i}.toml",
                instance=f"node{i}",
                pbxes=pbxes,
                gateway_url=gateway.url,
                database_url=database_url,
                lease_seconds=lease_seconds,
                renew_seconds=renew_seconds,
            )
            services.append(ServiceProcess(config, workdir / f"node{i}.log"))
        logs = [s.log_path for s in services]
        try:
            await asyncio.gather(*(s.start() for s in services))

            share = math.ceil(links / instances)

            async def all_held() -> bool:
                owners = await _owners(engine)
                spread = max(Counter(owners.values()).values(), default=0) <= share
                held = len(owners) == links and spread
                return held and all(s.logged_in == 1 for s in servers)

            await _wait(all_held, "every link held, spread, logged in", 90.0, logs)
            streamed: list[Copy] = []
            streams = [
                asyncio.create_task(
                    _stream(server, trace, i * calls_per_link, calls_per_link, every, streamed)
                )
                for i, server in enumerate(servers)
            ]
            await asyncio.sleep(kill_after)
            before = await _owners(engine)
            busiest, held = Counter(before.values()).most_common(1)[0]
            pid = int(busiest.rsplit("/", 1)[1])
            victim = next(s for s in services if s.proc is not None and s.proc.pid == pid)
            killed_at = time.monotonic()
            await victim.signal(signal.SIGKILL)

            async def reowned() -> bool:
                owners = await _owners(engine)
                taken = len(owners) == links and busiest not in owners.values()
                return taken and all(s.logged_in == 1 for s in servers)

            await _wait(reowned, "every link owned again", 60.0, logs)
            failover = time.monotonic() - killed_at
            after = await _owners(engine)
            await asyncio.gather(*streams)
            total = links * calls_per_link

            async def all_texted() -> bool:
                return len(gateway.requests) >= total

            with contextlib.suppress(AssertionError):
                await _wait(all_texted, "every text", 60.0, logs)
            await asyncio.sleep(2.0)  # a duplicate would arrive now
            recorded = await _recorded(engine)
        finally:
            for service in services:
                if service.alive:
                    with contextlib.suppress(TimeoutError):
                        await service.signal(signal.SIGTERM)
                await service.ensure_stopped()
            await engine.dispose()
        texts = Counter(r.to for r in gateway.requests)
        want = Counter({f"+1{c.number}": 1 for c in streamed})
        calls = Counter((c.linkedid,) for c in streamed)
        lost_texts = sum(1 for n in want if texts[n] == 0)
        lost_calls = sum(1 for (linkedid,) in calls if recorded[linkedid] == 0)
        duplicates = sum(n - 1 for n in texts.values() if n > 1)
        duplicates += sum(n - 1 for n in recorded.values() if n > 1)
        duplicates += sum(1 for n in texts if n not in want)
        return FailoverRun(
            failover_seconds=failover,
            lost=max(lost_texts, lost_calls),
            duplicates=duplicates,
            calls=len(streamed),
            killed_links=held,
            max_sessions=max(s.max_logged_in for s in servers),
            owners_before=before,
            owners_after=after,
            logs=logs,
        )


async def _recorded(engine: AsyncEngine) -> Counter[str]:
    """Missed inbound calls recorded, per Linkedid (the default tenant's tables)."""
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT linkedid FROM public.calls"))
        return Counter(str(r[0]) for r in rows)


async def measure_failover(
    database_url: str,
    workdir: Path,
    *,
    instances: int = 3,
    links: int = 4,
    calls_per_link: int = 40,
    lease_seconds: float = 6.0,
    renew_seconds: float = 1.5,
) -> tuple[float, int, int]:
    """(seconds to own every link again, calls lost, duplicates) of :func:`run_failover`
    on an empty PostgreSQL database at ``database_url``, working in ``workdir``."""
    run = await run_failover(
        database_url,
        workdir,
        instances=instances,
        links=links,
        calls_per_link=calls_per_link,
        lease_seconds=lease_seconds,
        renew_seconds=renew_seconds,
    )
    return run.failover_seconds, run.lost, run.duplicates
