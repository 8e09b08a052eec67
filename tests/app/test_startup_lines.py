"""``run`` says at start-up where each listener is: AMI per PBX, dashboard, FastAGI, webhooks.

The console script in a process of its own, against the in-repo AMI server; its log is read
as an admin reads ``journalctl``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.store.schema import upgrade


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(path: Path, db: Path, *, ami: int, second_ami: int, web: int, agi: int) -> Path:
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{db}"\n'
        f'[pbx]\nname = "main"\nport = {ami}\nsecret = "pw"\n'
        f'[[pbxes]]\nname = "branch"\nport = {second_ami}\nusername = "branch"\n'
        'secret = "pw2"\nconnect_timeout = 0.5\n'
        f"[web]\nport = {web}\n[agi]\nenabled = true\nport = {agi}\n"
        '[provider]\nname = "twilio"\ndefault_sender = "+15555550100"\n'
        f'[provider.twilio]\naccount_sid = "AC{"0" * 32}"\n'
        'api_base_url = "http://127.0.0.1:9/"\n'
    )
    return path


async def _lines_until(stream: asyncio.StreamReader, needed: list[str]) -> list[str]:
    lines: list[str] = []
    async with asyncio.timeout(30):
        while not all(any(n in line for line in lines) for n in needed):
            raw = await stream.readline()
            if not raw:
                break
            lines.append(raw.decode().rstrip("\n"))
    return lines


async def test_run_logs_one_start_up_line_per_listener(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    await upgrade(f"sqlite+aiosqlite:///{db}")
    web, agi = _free_port(), _free_port()
    async with (
        AmiServer({"textback": "pw"}) as main_pbx,
        AmiServer({"branch": "pw2"}) as branch,
    ):
        cfg = _config(
            tmp_path / "textback.toml",
            db,
            ami=main_pbx.port,
            second_ami=branch.port,
            web=web,
            agi=agi,
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "asterisk_textback",
            "run",
            "-c",
            str(cfg),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "TWILIO_AUTH_TOKEN": "not-a-real-token"},
        )
        assert proc.stderr is not None
        try:
            expected = [
                f"AMI: connecting to main at 127.0.0.1:{main_pbx.port} as textback",
                f"AMI: connecting to branch at 127.0.0.1:{branch.port} as branch",
                f"dashboard at http://127.0.0.1:{web}/",
                f"FastAGI listening on 127.0.0.1:{agi}",
                f"webhooks at http://127.0.0.1:{web}/webhooks/twilio (local; set "
                "web.webhooks.public_base_url",
            ]
            lines = await _lines_until(proc.stderr, expected)
            for text in expected:
                assert [line for line in lines if text in line], (text, lines)
            # One line each, not repeated.
            assert len([line for line in lines if "dashboard at" in line]) == 1
        finally:
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                _, rest = await proc.communicate()
    assert proc.returncode == 0, rest.decode()
    assert "Traceback" not in rest.decode()
