"""One listener for every tenant: ``/t/<id>/…`` reaches tenant ``<id>`` (a provider's signed
callback included), the rest the default tenant, ``/cluster/healthz`` all of them."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.app.host import Host
from asterisk_textback.sms.vendors.twilio import signature
from asterisk_textback.store import contacts
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.tenant_scope import scoped_engine, tenant_url
from tests.app.hostsupport import host_run, main_config, migrate
from tests.app.reloadsupport import BodyGateway
from tests.dbfixtures import empty_url  # noqa: F401 - a fixture, found by name
from tests.pipeline.support import AMI_SECRET, AMI_USER

TOKEN = "acme-twilio-token"
CALLER = "+12125550147"
ACME_SENDER = "+15555550201"
FORM = {"MessageSid": "SM" + "1" * 32, "From": CALLER, "To": ACME_SENDER, "Body": "STOP"}


@pytest.fixture
def fresh_url(empty_url: str) -> str:  # noqa: F811 - the fixture imported above
    """An empty database of each backend; the test migrates the tenants it wants."""
    return empty_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _acme_twilio(main: Path, ami_port: int) -> None:
    folder = main.parent / "tenants.d"
    folder.mkdir(exist_ok=True)
    (folder / "acme.toml").write_text(
        f'[pbx]\nport = {ami_port}\n[provider]\nname = "twilio"\n'
        f'default_sender = "{ACME_SENDER}"\n[provider.twilio]\n'
        f'account_sid = "AC{"0" * 32}"\napi_base_url = "http://127.0.0.1:9"\n'
        'auth_token_env = "ACME_TWILIO_TOKEN"\n'
    )
    # A file that does not load: the listener serves the others and names it.
    (folder / "broken.toml").write_text('[suppression]\ncooldown_hours = "soon"\n')


async def _opted_out(url: str, tenant: str) -> bool:
    engine = create_engine(tenant_url(url, tenant))
    try:
        async with create_session_factory(scoped_engine(engine, tenant))() as session:
            contact = await contacts.get_contact(session, CALLER)
    finally:
        await engine.dispose()
    return contact is not None and contact.opted_out


async def test_webhooks_and_health_reach_the_right_tenant(fresh_url: str, tmp_path: Path) -> None:
    await migrate(fresh_url, ["acme"])
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    seen: dict[str, Any] = {}
    async with (
        BodyGateway() as gw,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_default,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx_acme,
    ):
        main = main_config(
            tmp_path,
            ami_port=pbx_default.port,
            gateway_url=gw.url,
            database_url=fresh_url,
            web_port=port,
        )
        main.write_text(
            main.read_text().replace(
                "[web]\n", '[web]\nwebhooks = { public_base_url = "https://tb.example" }\n'
            )
        )
        _acme_twilio(main, pbx_acme.port)

        async def post(http: aiohttp.ClientSession, path: str, sig: str) -> int:
            headers = {"X-Twilio-Signature": sig}
            async with http.post(base + path, data=FORM, headers=headers) as resp:
                return resp.status

        async def drive(host: Host) -> None:
            for view in host.views():
                await view.parts.connection.wait_ready()
            signed = signature(TOKEN, "https://tb.example/t/acme/webhooks/twilio", FORM.items())
            unprefixed = signature(TOKEN, "https://tb.example/webhooks/twilio", FORM.items())
            async with aiohttp.ClientSession() as http:
                for path in ("/healthz", "/t/acme/healthz", "/t/nobody/healthz", "/t/default/x"):
                    async with http.get(base + path) as resp:
                        seen[path] = (resp.status, resp.headers.get("Server"))
                async with http.get(base + "/cluster/healthz") as resp:
                    seen["cluster"] = (resp.status, await resp.json())
                async with http.get(base + "/cluster/metrics") as resp:
                    seen["metrics"] = (resp.status, await resp.text())
                seen["forged"] = await post(http, "/t/acme/webhooks/twilio", "forged")
                seen["unprefixed"] = await post(http, "/t/acme/webhooks/twilio", unprefixed)
                seen["default"] = await post(http, "/webhooks/twilio", signed)
                seen["signed"] = await post(http, "/t/acme/webhooks/twilio", signed)

        await host_run(main, drive, environ={"ACME_TWILIO_TOKEN": TOKEN})
    assert seen["/healthz"] == (200, "asterisk-textback")
    assert seen["/t/acme/healthz"] == (200, "asterisk-textback")
    assert seen["/t/nobody/healthz"][0] == 404
    assert seen["/t/default/x"][0] == 404  # the default tenant lives at /, nowhere else
    status, cluster = seen["cluster"]
    assert status == 200
    assert sorted(cluster["tenants"]) == ["acme", "default"]
    assert cluster["tenants"]["acme"]["ami"]["state"] == "ready"
    (refused,) = cluster["refused"]
    assert refused["id"] == "broken"
    assert "suppression.cooldown_hours" in refused["reason"]
    # The running host's /cluster/metrics: every series labelled with its tenant.
    status, metrics = seen["metrics"]
    assert status == 200
    assert 'tenant="acme"' in metrics
    assert 'tenant="default"' in metrics
    assert 'tenant="broken"' not in metrics
    # A signature must cover the tenant's own URL; the default tenant has no Twilio.
    assert (seen["forged"], seen["unprefixed"], seen["default"]) == (403, 403, 404)
    assert seen["signed"] == 200
    assert await _opted_out(fresh_url, "acme")
    assert not await _opted_out(fresh_url, "default")


async def test_without_a_main_business_only_the_tenants_are_served(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'main.db'}"
    await migrate(url, ["acme"])
    port = _free_port()
    seen: dict[str, int] = {}
    async with BodyGateway() as gw, AmiServer({AMI_USER: AMI_SECRET}) as pbx:
        main = main_config(
            tmp_path, ami_port=pbx.port, gateway_url=gw.url, database_url=url, web_port=port
        )
        main.write_text(main.read_text() + "\n[tenants]\nmain_business = false\n")
        _acme_twilio(main, pbx.port)

        async def drive(host: Host) -> None:
            assert [v.id for v in host.views()] == ["acme"]
            async with aiohttp.ClientSession() as http:
                for path in ("/healthz", "/t/acme/healthz", "/t/acme/metrics"):
                    async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
                        seen[path] = resp.status

        await host_run(main, drive, environ={"ACME_TWILIO_TOKEN": TOKEN})
    assert seen["/healthz"] == 404
    assert seen["/t/acme/healthz"] == 200
    assert seen["/t/acme/metrics"] == 200
