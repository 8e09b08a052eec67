"""SIGHUP in a host of tenants: added ones start, changed ones reload, removed ones stop
with what they had in hand, and a file that no longer loads is refused while its running
version, and every other tenant, goes on. Calls are streamed across each reload."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.app.host import Host
from tests.app.hostsupport import (
    callers,
    host_run,
    main_config,
    migrate,
    missed_calls,
    recorded,
    tenant_file,
    texts,
    until,
)
from tests.app.reloadsupport import BodyGateway
from tests.pipeline.support import AMI_SECRET, AMI_USER, build_workload, load_traces

BAD = '[suppression]\ncooldown_hours = "soon"\n'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_sighup_adds_changes_removes_and_refuses_tenants(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'main.db'}"
    await migrate(url, ["acme", "bolt", "cargo"])
    # Acme's calls run across the reload: some are still ringing when it happens.
    work = build_workload(load_traces(), 24, rate=40.0, start_at=time.time(), max_gap=0.1)
    cut = max(work.final_hangup[i] for i in range(8)) + 1
    assert any(work.first_frame[i] < cut < work.final_hangup[i] for i in work.final_hangup)
    reload = asyncio.Event()
    async with (
        BodyGateway() as gw_d,
        BodyGateway() as gw_a,
        BodyGateway() as gw_b,
        BodyGateway() as gw_c,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_d,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_a,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_b,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_c,
    ):
        main = main_config(
            tmp_path, ami_port=pbx_d.port, gateway_url=gw_d.url, database_url=url, web_port=None
        )

        def acme(marker: str) -> None:
            sender = "+15555550201"
            tenant_file(
                main,
                "acme",
                marker=marker,
                sender=sender,
                ami_port=pbx_a.port,
                gateway_url=gw_a.url,
            )

        def cargo(extra: str = "") -> None:
            sender = "+15555550203"
            tenant_file(
                main,
                "cargo",
                marker="CARGO",
                sender=sender,
                ami_port=pbx_c.port,
                gateway_url=gw_c.url,
                extra=extra,
            )

        acme("ACME")
        bolt = tenant_file(
            main,
            "bolt",
            marker="BOLT",
            sender="+15555550202",
            ami_port=pbx_b.port,
            gateway_url=gw_b.url,
        )

        async def drive(host: Host) -> None:
            for view in host.views():
                await view.parts.connection.wait_ready()
            acme_parts = host.parts("acme")
            assert acme_parts is not None
            assert acme_parts.reloader is not None
            await pbx_a.stream(work.frames[:cut])
            await pbx_b.stream(missed_calls(3))  # bolt is removed with these in hand
            acme("ACME2")
            bolt.unlink()
            cargo()
            (main.parent / "tenants.d" / "dud.toml").write_text(BAD)
            reload.set()
            await until(lambda: host.parts("cargo") is not None, "cargo to start")
            await until(lambda: acme_parts.reloader.applied == 1, "acme to reload")
            assert host.parts("bolt") is None
            assert [r.id for r in host.refused()] == ["dud"]
            cargo_parts = host.parts("cargo")
            assert cargo_parts is not None
            await cargo_parts.connection.wait_ready()
            # Cargo's file breaks: its running version goes on, named as refused.
            cargo(extra=BAD)
            reload.set()
            await until(lambda: len(host.refused()) == 2, "cargo refused")
            assert host.parts("cargo") is cargo_parts
            await pbx_c.stream(missed_calls(1))
            await pbx_a.stream(work.frames[cut:])
            await pbx_d.stream(missed_calls(2))
            await until(lambda: recorded(host, "acme") >= work.calls, "every acme call")
            await until(lambda: bool(texts(gw_a, "ACME2")), "a text in acme's new wording")
            await until(lambda: len(gw_c.texts) == 1 and len(gw_d.texts) == 2, "cargo, default")
            assert [v.id for v in host.views()] == ["default", "acme", "cargo"]

        with caplog.at_level(logging.INFO, logger="asterisk_textback.app.host"):
            await host_run(main, drive, reload=reload)
    lines = [r.getMessage() for r in caplog.records if r.name == "asterisk_textback.app.host"]
    assert any("tenant bolt removed" in line for line in lines), lines
    assert any("tenant cargo added" in line for line in lines), lines
    dud = [line for line in lines if line.startswith("tenant dud refused")]
    assert dud, lines
    assert all("suppression.cooldown_hours" in line for line in dud), lines
    kept = [line for line in lines if line.startswith("tenant cargo refused")]
    assert len(kept) == 1, lines
    assert "previous config keeps running" in kept[0]
    assert "suppression.cooldown_hours" in kept[0]
    # Bolt recorded the calls it had in hand before it stopped (texts not sent yet stay
    # queued in its storage, as at any shutdown).
    assert len(await callers(url, "bolt")) == 3
    assert all(t.body.startswith("BOLT ") for t in gw_b.texts)
    # No acme call was dropped across the reload; texts after it carry the new wording.
    assert len(await callers(url, "acme")) == work.calls
    markers = {t.body.split(" ")[0] for t in gw_a.texts}
    assert markers == {"ACME", "ACME2"}, markers
    assert texts(gw_c, "CARGO")
    assert texts(gw_d, "DEFAULT")


async def test_the_first_tenant_file_moves_the_business_behind_the_dispatcher(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'main.db'}"
    await migrate(url, ["acme"])
    port = _free_port()
    reload = asyncio.Event()
    seen: dict[str, int] = {}
    async with (
        BodyGateway() as gw_d,
        BodyGateway() as gw_a,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_d,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_a,
    ):
        main = main_config(
            tmp_path, ami_port=pbx_d.port, gateway_url=gw_d.url, database_url=url, web_port=port
        )

        async def get(http: aiohttp.ClientSession, path: str) -> int:
            async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
                return resp.status

        async def drive(host: Host) -> None:
            default = host.parts("default")
            assert default is not None
            assert default.reloader is not None
            await default.connection.wait_ready()
            async with aiohttp.ClientSession() as http:
                seen["before"] = await get(http, "/healthz")
                seen["acme before"] = await get(http, "/t/acme/healthz")
                tenant_file(
                    main,
                    "acme",
                    marker="ACME",
                    sender="+15555550201",
                    ami_port=pbx_a.port,
                    gateway_url=gw_a.url,
                )
                reload.set()
                await until(lambda: host.parts("acme") is not None, "acme to start")
                acme = host.parts("acme")
                assert acme is not None
                await acme.connection.wait_ready()
                # The business reloaded as it would have alone (same config: nothing changed).
                await until(lambda: default.reloader.applied == 1, "the default tenant's reload")
                seen["after"] = await get(http, "/healthz")
                seen["acme after"] = await get(http, "/t/acme/healthz")
                seen["cluster"] = await get(http, "/cluster/healthz")
                # A main config that no longer loads: refused by the business, as before.
                main.write_text(main.read_text() + BAD)
                reload.set()
                await until(lambda: default.reloader.refused == 1, "the main config refused")
                seen["still"] = await get(http, "/t/acme/healthz")
            await pbx_d.stream(missed_calls(1))
            await until(lambda: len(gw_d.texts) == 1, "the business's text")

        await host_run(main, drive, reload=reload)
    assert (seen["before"], seen["acme before"]) == (200, 404)
    assert (seen["after"], seen["acme after"], seen["cluster"]) == (200, 200, 200)
    assert seen["still"] == 200
