"""``run`` serves /healthz and the provider's callbacks on one port (real sockets)."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.app.service import RunningService, serve
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.sms.vendors.twilio import signature
from asterisk_textback.store import contacts
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.loading import prepare

TOKEN = "twilio-auth-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_health_and_a_signed_stop_through_the_running_service(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    port = _free_port()
    started = time.time()
    async with AmiServer({"textback": "pw"}) as pbx:
        settings = settings_from_mapping(
            {
                "pbx": {"port": pbx.port, "secret": "pw"},
                "database": {"url": url},
                "web": {"port": port, "webhooks": {"public_base_url": "https://tb.example"}},
                "provider": {
                    "name": "twilio",
                    "default_sender": "+15555550100",
                    "twilio": {
                        "account_sid": "AC" + "0" * 32,
                        "api_base_url": "http://127.0.0.1:9",
                    },
                },
            }
        )
        stop = asyncio.Event()
        seen: dict[str, object] = {}

        async def drive(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    seen["health_status"] = resp.status
                    seen["health"] = await resp.json()
                form = {
                    "MessageSid": "SM" + "1" * 32,
                    "From": "+12125550147",
                    "To": "+15555550100",
                    "Body": "STOP",
                }
                sig = signature(TOKEN, "https://tb.example/webhooks/twilio", form.items())
                async with http.post(
                    f"http://127.0.0.1:{port}/webhooks/twilio",
                    data=form,
                    headers={"X-Twilio-Signature": sig},
                ) as resp:
                    seen["stop_status"] = resp.status
                async with http.post(
                    f"http://127.0.0.1:{port}/webhooks/twilio",
                    data=form,
                    headers={"X-Twilio-Signature": "forged"},
                ) as resp:
                    seen["forged_status"] = resp.status
            stop.set()

        await serve(prepare(settings), stop, environ={"TWILIO_AUTH_TOKEN": TOKEN}, on_ready=drive)
    assert seen["health_status"] == 200
    health = seen["health"]
    assert isinstance(health, dict)
    assert health["ami"]["state"] == "ready"
    # When the link entered that state (the Health page says "down since …" from it).
    assert started <= health["ami"]["since"] <= time.time()
    assert seen["stop_status"] == 200
    assert seen["forged_status"] == 403
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            contact = await contacts.get_contact(session, "+12125550147")
    finally:
        await engine.dispose()
    assert contact is not None
    assert contact.opted_out


async def test_the_dashboard_is_served_by_run(tmp_path: Path) -> None:
    from asterisk_textback.web.dashboard.auth import hash_password

    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    port = _free_port()
    async with AmiServer({"textback": "pw"}) as pbx:
        settings = settings_from_mapping(
            {
                "pbx": {"port": pbx.port, "secret": "pw"},
                "database": {"url": url},
                "web": {
                    "port": port,
                    "dashboard": {"password_hash": hash_password("correct horse 1")},
                },
            }
        )
        stop = asyncio.Event()
        seen: dict[str, object] = {}

        async def drive(parts: RunningService) -> None:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/login") as resp:
                    seen["login"] = resp.status
                    seen["html"] = await resp.text()
                async with http.get(f"http://127.0.0.1:{port}/api/v1/calls") as resp:
                    seen["api_anonymous"] = resp.status
            stop.set()

        await serve(prepare(settings), stop, environ={}, on_ready=drive)
    assert seen["login"] == 200
    assert "<form" in str(seen["html"])
    assert seen["api_anonymous"] == 401


def test_web_passwd_prints_a_hash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from asterisk_textback.cli.main import main

    monkeypatch.setattr("getpass.getpass", lambda prompt="": "correct horse battery")
    assert main(["web", "passwd"]) == 0
    assert 'password_hash = "scrypt$' in capsys.readouterr().out


async def test_metrics_in_prometheus_format(tmp_path: Path, traces_dir: Path) -> None:
    from asterisk_textback.ami.sim.tracefile import read_trace
    from asterisk_textback.ami.sim.workload import call_stream

    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    port = _free_port()
    trace = read_trace(traces_dir / "direct-voicemail-left.ami")
    frames = call_stream([trace], 1, rate=1, start_at=time.time() - 40, fresh_numbers=False)
    async with AmiServer({"textback": "pw"}) as pbx:
        settings = settings_from_mapping(
            {
                "pbx": {"port": pbx.port, "secret": "pw"},
                "database": {"url": url},
                "web": {"port": port},
                "suppression": {"quiet_hours": False},
            }
        )
        stop = asyncio.Event()
        seen: dict[str, str] = {}

        async def drive(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            await pbx.stream(frames)
            async with asyncio.timeout(5):
                while parts.dispatcher.stats.sent < 1:  # noqa: ASYNC110 - dispatcher counter
                    await asyncio.sleep(0.02)
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{port}/metrics") as resp,
            ):
                seen["type"] = resp.content_type
                seen["body"] = await resp.text()
            stop.set()

        await serve(prepare(settings), stop, environ={}, on_ready=drive)
    body = seen["body"]
    assert seen["type"] == "text/plain"
    assert 'textback_calls_total{outcome="missed_voicemail"} 1' in body
    assert 'textback_texts_total{status="sent"} 1' in body
    assert 'textback_ami_up{pbx="default",state="ready"} 1' in body
    assert 'textback_outbox_messages{status="sent"} 1' in body
    assert 'textback_send_latency_seconds_bucket{le="+Inf"} 1' in body
    assert "textback_send_latency_seconds_count 1" in body
    assert "# TYPE textback_send_retries_total counter" in body
