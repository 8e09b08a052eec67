"""Shared by the tenant host tests: an install on disk (main config + tenant files), its
databases migrated, and the rows each tenant's storage holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.ami.sim.workload import call_stream
from asterisk_textback.app.host import Host, serve_tenants
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.models import Call
from asterisk_textback.store.schema import upgrade
from asterisk_textback.store.tenant_scope import scoped_engine, tenant_url
from asterisk_textback.tenancy.files import load_tenants
from tests.app.reloadsupport import config, templates_toml
from tests.pipeline.support import TRACES

WAIT = 20.0
#: The DID the recorded missed call was made to.
TRACE_DID = b"5550300"


async def until(check: Callable[[], bool], what: str) -> None:
    """Poll ``check`` until true; AssertionError naming ``what`` after :data:`WAIT` s."""
    try:
        async with asyncio.timeout(WAIT):
            while not check():  # noqa: ASYNC110 - counters of the running services
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def missed_calls(count: int, *, did: bytes = TRACE_DID, seed: int = 0) -> list[bytes]:
    """``count`` missed calls (ring group, caller hung up) to ``did``, fresh callers each."""
    trace = read_trace(TRACES / "ringgroup-novm-caller-hangup-ringing.ami")
    trace = [frame.replace(TRACE_DID, did) for frame in trace]
    return call_stream([trace], count, rate=20, start_at=time.time() - 5, seed=seed)


def main_config(
    folder: Path, *, ami_port: int, gateway_url: str, database_url: str, web_port: int | None
) -> Path:
    """``textback.toml``: the default tenant texting "DEFAULT from …"."""
    path = folder / "textback.toml"
    return config(
        path,
        ami_port=ami_port,
        gateway_url=gateway_url,
        database_url=database_url,
        marker="DEFAULT",
        web_port=web_port,
    )


def tenant_file(
    main: Path,
    tenant: str,
    *,
    marker: str,
    sender: str,
    ami_port: int | None = None,
    gateway_url: str | None = None,
    dids: Sequence[str] = (),
    extra: str = "",
) -> Path:
    """``tenants.d/<tenant>.toml``: its own sender, PBX, gateway and text marker."""
    folder = main.parent / "tenants.d"
    folder.mkdir(exist_ok=True)
    listed = ", ".join(f'"{did}"' for did in dids)
    lines = [f'[tenant]\nname = "{tenant.title()} Inc"\ndids = [{listed}]\n']
    if ami_port is not None:
        lines.append(f"[pbx]\nport = {ami_port}\n")
    lines.append(f'[provider]\ndefault_sender = "{sender}"\n')
    if gateway_url is not None:
        lines.append(f'[provider.webhook]\nurl = "{gateway_url}"\n')
    path = folder / f"{tenant}.toml"
    path.write_text("".join(lines) + extra + templates_toml(marker))
    return path


async def migrate(url: str, tenants: Sequence[str]) -> None:
    """The default tenant's storage and each of ``tenants``' (a schema, or a file)."""
    await upgrade(url)
    for tenant in tenants:
        await upgrade(url, tenant=tenant)


async def callers(url: str, tenant: str) -> list[tuple[str, str]]:
    """``(caller number, DID)`` of every call in ``tenant``'s storage."""
    engine = create_engine(tenant_url(url, tenant))
    try:
        sessions = create_session_factory(scoped_engine(engine, tenant))
        async with sessions() as session:
            rows = (await session.execute(select(Call.caller_number, Call.did))).all()
    finally:
        await engine.dispose()
    return sorted((str(number), str(did)) for number, did in rows)


async def host_run(
    main: Path,
    drive: Callable[[Host], Awaitable[None]],
    *,
    environ: Mapping[str, str] | None = None,
    reload: asyncio.Event | None = None,
) -> Host:
    """``run``'s host on ``main`` until ``drive`` returns."""
    stop = asyncio.Event()

    async def ready(host: Host) -> None:
        try:
            await drive(host)
        finally:
            stop.set()

    return await serve_tenants(
        load_tenants(main),
        stop,
        environ=environ or {},
        reload=reload,
        load_tenants=lambda: load_tenants(main),
        on_ready=ready,
        main_path=main,
    )


def recorded(host: Host, tenant: str) -> int:
    """Calls ``tenant``'s running service has recorded (0 when it is not running)."""
    parts = host.parts(tenant)
    return 0 if parts is None else parts.recorder.recorded


def texts(gateway: Any, marker: str) -> list[str]:
    """The bodies ``gateway`` got that start with ``marker``."""
    return [t.body for t in gateway.texts if t.body.startswith(marker + " ")]
