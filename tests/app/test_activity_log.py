"""The log an admin follows: one INFO line per call and per text; ``-v`` adds the reasoning.

A real recorded missed call goes through the running service (in-repo AMI server over TCP,
a local HTTP gateway as the provider); the log records are read as an admin would.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path

import pytest

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.ami.sim.workload import call_stream
from asterisk_textback.app.service import RunningService, serve
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.loading import prepare
from tests.app.fakes import fake_gateway

#: The caller of ``direct-voicemail-left.ami`` (manifest.json), and how the log shows it.
CALLER = "2125550147"
MASKED = "+1•••••0147"


async def _serve_one_call(
    tmp_path: Path, traces_dir: Path, name: str = "direct-voicemail-left.ami", texted: bool = True
) -> str:
    """Run the service on one recorded call until it is recorded (and its text sent, when
    ``texted``); the call's Linkedid."""
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    trace = read_trace(traces_dir / name)
    frames = call_stream([trace], 1, rate=1, start_at=time.time() - 40, fresh_numbers=False)
    first = re.search(rb"Linkedid: (\S+)", b"".join(frames))
    assert first is not None
    linkedid = first[1].decode()
    async with AmiServer({"textback": "pw"}) as pbx, fake_gateway() as gateway:
        settings = settings_from_mapping(
            {
                "pbx": {"port": pbx.port, "secret": "pw"},
                "database": {"url": url},
                "web": {"enabled": False},
                "suppression": {"quiet_hours": False},
                "provider": {
                    "name": "webhook",
                    "default_sender": "+15555550100",
                    "webhook": {"url": gateway.url},
                },
            }
        )
        stop = asyncio.Event()

        async def drive(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            await pbx.stream(frames)
            async with asyncio.timeout(5):
                while parts.recorder.recorded < 1 or (  # noqa: ASYNC110 - counters
                    texted and parts.dispatcher.stats.sent < 1
                ):
                    await asyncio.sleep(0.02)
            stop.set()

        await serve(prepare(settings), stop, environ={}, on_ready=drive)
    return linkedid


def _lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


async def test_one_info_line_per_call_and_per_text(
    tmp_path: Path, traces_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    linkedid = await _serve_one_call(tmp_path, traces_dir)
    info = _lines(caplog, logging.INFO)
    calls = [line for line in info if line.startswith(f"call {linkedid} ")]
    assert len(calls) == 1, info
    (call,) = calls
    assert re.fullmatch(
        rf"call {re.escape(linkedid)} \(default\): inbound missed_voicemail/no_answer "
        rf"from {re.escape(MASKED)} to DID 5550100, voicemail \S+ -> text (\d+) queued "
        r"\(rule '[^']+', template \S+, due \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, "
        r"\d+ s after the call\)",
        call,
    ), call
    message_id = re.search(r"-> text (\d+) queued", call)
    assert message_id is not None
    texts = [line for line in info if line.startswith(f"text {message_id[1]} ")]
    assert len(texts) == 1, info
    assert re.fullmatch(
        rf"text {message_id[1]} to {re.escape(MASKED)} sent via webhook id gw-1 "
        r"in \d+\.\d\d s \(attempt 1\)",
        texts[0],
    ), texts[0]
    # No reasoning at the default level, and the number is never in full.
    assert not _lines(caplog, logging.DEBUG)
    assert not any(CALLER in r.getMessage() for r in caplog.records)


async def test_verbose_adds_the_trackers_reasoning_for_the_call(
    tmp_path: Path, traces_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="asterisk_textback.calls.tracker")
    linkedid = await _serve_one_call(tmp_path, traces_dir)
    reasoning = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.DEBUG and r.name == "asterisk_textback.calls.tracker"
    ]
    (line,) = [m for m in reasoning if m.startswith(f"call {linkedid} classified")]
    assert "inbound missed_voicemail/no_answer" in line
    assert "root context from-trunk (trunk)" in line
    assert "nobody answered" in line
    assert "VMSTATUS SUCCESS" in line
    assert "caller •••••0147" in line  # as the PBX sent it (national), masked
    assert CALLER not in line


async def test_a_call_not_texted_says_why(
    tmp_path: Path, traces_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    name = "anonymous-caller-hangup-ringing.ami"
    linkedid = await _serve_one_call(tmp_path, traces_dir, name, texted=False)
    (line,) = [m for m in _lines(caplog, logging.INFO) if m.startswith(f"call {linkedid} ")]
    assert "inbound missed_no_voicemail/caller_hangup from " in line
    assert line.endswith("-> not texted: anonymous") or "-> not texted: anonymous:" in line
    assert not any(m.startswith("text ") for m in _lines(caplog, logging.INFO))
