"""``check`` and ``send-test`` against a real AMI server, database and HTTP gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.cli.check_report import format_results
from asterisk_textback.cli.checks import run_checks
from asterisk_textback.cli.main import main
from asterisk_textback.cli.send_test import send_test
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.errors import ProviderNumberError
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.loading import PreparedConfig, prepare
from tests.app.fakes import Reply, fake_gateway


def _loaded(tmp_path: Path, port: int, **provider: object) -> PreparedConfig:
    return prepare(
        settings_from_mapping(
            {
                "pbx": {
                    "port": port,
                    "username": "textback",
                    "secret_env": "AMI_SECRET",
                    "connect_timeout": 1.0,
                },
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 't.db'}"},
                "provider": {"default_sender": "+15555550100", **provider},
            }
        )
    )


async def test_all_checks_pass_on_a_working_setup(tmp_path: Path) -> None:
    async with AmiServer({"textback": "s3cret"}) as server:
        loaded = _loaded(tmp_path, server.port)
        await upgrade(loaded.settings.database.url)
        results = await run_checks(loaded, {"AMI_SECRET": "s3cret"})
    report = format_results(results)
    names = [r.name for r in results]
    assert names == [
        "config",
        "carrier rules",
        "first texts",
        "environment",
        "database",
        "ami",
        "pbx clock",
        "ami classes",
        "dialplan",
        "provider",
        "webhooks",
    ]
    assert all(r.ok for r in results), report
    assert "[PASS] ami: logged in to 127.0.0.1" in report
    # The default account may run GetConfig (write=all): its read line is read, not guessed.
    assert "[PASS] ami classes: [textback] in manager.conf (read with GetConfig): read = all" in (
        report
    )


async def test_failures_name_the_fix(tmp_path: Path) -> None:
    async with AmiServer({"textback": "s3cret"}) as server:
        loaded = _loaded(tmp_path, server.port)
        results = await run_checks(loaded, {"AMI_SECRET": "wrong"})
    by_name = {r.name: r for r in results}
    assert not by_name["database"].ok
    assert "db upgrade" in by_name["database"].fix
    assert not by_name["ami"].ok
    assert "textback" in by_name["ami"].detail  # names the user that was refused
    report = format_results(results)
    assert "[FAIL] database" in report
    assert "fix:" in report


def test_check_exits_non_zero_on_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "t.db"}"\n'
        "[pbx]\nport = 1\nconnect_timeout = 0.2\nreconnect_max = 0.2\n"
    )
    assert main(["check", "-c", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "[PASS] config" in out
    assert "[FAIL] ami" in out


async def test_send_test_prints_the_provider_id(tmp_path: Path) -> None:
    async with fake_gateway() as gateway:
        loaded = _loaded(tmp_path, 1, name="webhook", webhook={"url": gateway.url})
        result = await send_test(loaded, "212 555 0147", "hello", {})
    assert result.provider_message_id == "gw-1"
    assert gateway.requests[0]["to"] == "+12125550147"
    assert gateway.requests[0]["body"] == "hello"


async def test_send_test_reports_the_mapped_error(tmp_path: Path) -> None:
    async with fake_gateway() as gateway:
        gateway.script = [Reply(400, {"error": "landline"})]
        loaded = _loaded(tmp_path, 1, name="webhook", webhook={"url": gateway.url})
        with pytest.raises(ProviderNumberError):
            await send_test(loaded, "+12125550147", "hello", {})


async def test_dialplan_check_finds_trunk_contexts_and_the_hook(tmp_path: Path) -> None:
    async with AmiServer({"textback": "s3cret"}) as server:
        loaded = _loaded(tmp_path, server.port)
        results = {r.name: r for r in await run_checks(loaded, {"AMI_SECRET": "s3cret"})}
        assert results["dialplan"].ok
        assert "from-trunk" in results["dialplan"].detail
        assert "hook not loaded" in results["dialplan"].detail
        server.dialplan_contexts = {"from-pstn-textback", "textback-hangup", "from-internal"}
        results = {r.name: r for r in await run_checks(loaded, {"AMI_SECRET": "s3cret"})}
        assert "hook loaded" in results["dialplan"].detail
        server.dialplan_contexts = {"carrier-in", "from-internal"}
        results = {r.name: r for r in await run_checks(loaded, {"AMI_SECRET": "s3cret"})}
    assert not results["dialplan"].ok
    assert "tracker.trunk_contexts" in results["dialplan"].fix


async def test_a_provider_with_callbacks_needs_the_public_url(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, 1, name="twilio", twilio={"account_sid": "AC" + "0" * 32})
    results = {
        r.name: r for r in await run_checks(loaded, {"AMI_SECRET": "x", "TWILIO_AUTH_TOKEN": "t"})
    }
    assert not results["webhooks"].ok
    assert "public_base_url" in results["webhooks"].fix
