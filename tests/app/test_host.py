"""One ``run`` process hosting three tenants: each texts through its own provider and keeps
its calls in its own storage (a SQLite file each, or a PostgreSQL schema each)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.app.host import Host
from asterisk_textback.errors import StartupError
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
from tests.dbfixtures import empty_url  # noqa: F401 - a fixture, found by name
from tests.pipeline.support import AMI_SECRET, AMI_USER


@pytest.fixture
def fresh_url(empty_url: str) -> str:  # noqa: F811 - the fixture imported above
    """An empty database of each backend; the test migrates the tenants it wants."""
    return empty_url


async def test_each_tenant_texts_its_own_callers_and_keeps_its_own_calls(
    fresh_url: str, tmp_path: Path
) -> None:
    await migrate(fresh_url, ["acme", "bolt"])
    async with (
        BodyGateway() as gw_default,
        BodyGateway() as gw_acme,
        BodyGateway() as gw_bolt,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_default,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_acme,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_bolt,
    ):
        main = main_config(
            tmp_path,
            ami_port=pbx_default.port,
            gateway_url=gw_default.url,
            database_url=fresh_url,
            web_port=None,
        )
        for tenant, pbx, gw, sender in (
            ("acme", pbx_acme, gw_acme, "+15555550201"),
            ("bolt", pbx_bolt, gw_bolt, "+15555550202"),
        ):
            tenant_file(
                main,
                tenant,
                marker=tenant.upper(),
                sender=sender,
                ami_port=pbx.port,
                gateway_url=gw.url,
            )

        async def drive(host: Host) -> None:
            assert [v.id for v in host.views()] == ["default", "acme", "bolt"]
            assert [v.base_path for v in host.views()] == ["", "/t/acme", "/t/bolt"]
            for view in host.views():
                await view.parts.connection.wait_ready()
            await asyncio.gather(
                pbx_default.stream(missed_calls(1, seed=1)),
                pbx_acme.stream(missed_calls(2, seed=2)),
                pbx_bolt.stream(missed_calls(3, seed=3)),
            )
            await until(
                lambda: (
                    (len(gw_default.texts), len(gw_acme.texts), len(gw_bolt.texts)) == (1, 2, 3)
                ),
                "every tenant's texts",
            )
            assert [recorded(host, t) for t in ("default", "acme", "bolt")] == [1, 2, 3]

        await host_run(main, drive)
    assert len(texts(gw_default, "DEFAULT")) == 1
    assert len(texts(gw_acme, "ACME")) == 2
    assert len(texts(gw_bolt, "BOLT")) == 3
    stored = {t: await callers(fresh_url, t) for t in ("default", "acme", "bolt")}
    assert [len(stored[t]) for t in ("default", "acme", "bolt")] == [1, 2, 3]
    # Each tenant's rows are the callers its own PBX sent, texted by its own provider.
    for tenant, gw in (("default", gw_default), ("acme", gw_acme), ("bolt", gw_bolt)):
        assert sorted(t.to[-10:] for t in gw.texts) == sorted(n[-10:] for n, _ in stored[tenant])


async def test_a_tenant_that_cannot_log_in_does_not_stop_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'main.db'}"
    await migrate(url, ["acme"])
    async with (
        BodyGateway() as gw_default,
        BodyGateway() as gw_acme,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_default,
        AmiServer({AMI_USER: "another secret"}) as pbx_acme,
    ):
        main = main_config(
            tmp_path,
            ami_port=pbx_default.port,
            gateway_url=gw_default.url,
            database_url=url,
            web_port=None,
        )
        tenant_file(main, "acme", marker="ACME", sender="+15555550201", ami_port=pbx_acme.port)

        async def drive(host: Host) -> None:
            await until(lambda: [r.id for r in host.refused()] == ["acme"], "acme refused")
            (refusal,) = host.refused()
            assert "pbx.username" in refusal.reason, refusal.reason
            assert refusal.path == main.parent / "tenants.d" / "acme.toml"
            assert [v.id for v in host.views()] == ["default"]
            ok, body = host.health()
            assert not ok
            assert body["refused"][0]["id"] == "acme"
            await pbx_default.stream(missed_calls(1))
            await until(lambda: len(gw_default.texts) == 1, "the default tenant's text")

        with caplog.at_level(logging.ERROR, logger="asterisk_textback.app.host"):
            await host_run(main, drive)
    assert any("tenant acme stopped" in r.getMessage() for r in caplog.records)
    assert not gw_acme.texts


async def test_one_business_alone_still_stops_run_when_its_pbx_refuses_the_login(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'main.db'}"
    await migrate(url, [])
    async with BodyGateway() as gw, AmiServer({AMI_USER: "another secret"}) as pbx:
        main = main_config(
            tmp_path, ami_port=pbx.port, gateway_url=gw.url, database_url=url, web_port=None
        )

        async def drive(host: Host) -> None:
            # The refused login ends the business's service; the host then raises why.
            await until(lambda: host.parts("default") is None, "the service to give up")

        with pytest.raises(StartupError, match=r"pbx\.username"):
            await host_run(main, drive)


async def test_a_tenant_whose_schema_was_never_created_is_refused(
    fresh_url: str, tmp_path: Path
) -> None:
    await migrate(fresh_url, ["acme"])  # not bolt
    async with (
        BodyGateway() as gw,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_default,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_bolt,
    ):
        main = main_config(
            tmp_path,
            ami_port=pbx_default.port,
            gateway_url=gw.url,
            database_url=fresh_url,
            web_port=None,
        )
        tenant_file(
            main,
            "acme",
            marker="ACME",
            sender="+15555550201",
            ami_port=pbx_default.port,
            extra='[tracker]\ntrunk_contexts = ["acme-in"]\n',
        )
        tenant_file(main, "bolt", marker="BOLT", sender="+15555550202", ami_port=pbx_bolt.port)

        async def drive(host: Host) -> None:
            assert [v.id for v in host.views()] == ["default", "acme"]
            (refusal,) = host.refused()
            assert refusal.id == "bolt"
            assert "db upgrade" in refusal.reason, refusal.reason

        await host_run(main, drive)
