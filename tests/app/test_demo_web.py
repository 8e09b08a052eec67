"""``demo --web``: the URL and a login printed, the demo's calls on the dashboard, Ctrl-C ends it.

The console script runs in a process of its own (the signal reaches a real process); the test
reads its output as a person would, logs in over HTTP and reads /calls.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

_LOGIN = re.compile(r"^login:\s+(\S+) / (\S+)", re.MULTILINE)
_URL = re.compile(r"^dashboard: (http://127\.0\.0\.1:\d+/)$", re.MULTILINE)
_SUMMARY = re.compile(r"^(\d+) calls: (\d+) texted", re.MULTILINE)


async def _start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "asterisk_textback",
        "demo",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def _read_until(proc: asyncio.subprocess.Process, pattern: re.Pattern[str]) -> str:
    """Everything printed up to the first line matching ``pattern``."""
    assert proc.stdout is not None
    text = ""
    async with asyncio.timeout(60):
        while not pattern.search(text):
            line = await proc.stdout.readline()
            if not line:
                err = await proc.stderr.read() if proc.stderr else b""
                raise AssertionError(f"demo ended early:\n{text}\n{err.decode()}")
            text += line.decode()
    return text


async def _login(http: aiohttp.ClientSession, url: str, user: str, password: str) -> int:
    async with http.get(f"{url}login") as form:
        token = re.search(r'name="csrf" value="([^"]+)"', await form.text())
    assert token, "no CSRF field on the login page"
    data = {"csrf": token[1], "username": user, "password": password, "next": "/calls"}
    async with http.post(f"{url}login", data=data, allow_redirects=False) as resp:
        return resp.status


async def test_demo_web_prints_a_login_that_shows_its_calls(tmp_path: Path) -> None:
    proc = await _start("--web", "--calls", "4", "--rate", "4", "--dir", str(tmp_path))
    try:
        head = await _read_until(proc, _LOGIN)
        url_match, login = _URL.search(head), _LOGIN.search(head)
        assert url_match, head
        assert login, head
        url, (user, password) = url_match[1], login.groups()
        assert user == "admin"
        assert len(password) >= 12
        rest = await _read_until(proc, re.compile(r"dashboard still at"))
        summary = _SUMMARY.search(rest)
        assert summary, rest
        assert summary[1] == "4", rest
        callers = set(re.findall(r"(\+1\d{10})", rest))
        # unsafe: accept cookies from an IP address (127.0.0.1), as a browser does.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            assert await _login(http, url, user, "not-the-password") == 401
            assert await _login(http, url, user, password) == 303
            async with http.get(f"{url}calls") as page:
                assert page.status == 200
                html = await page.text()
        assert callers, rest  # the demo texted somebody, and the page lists them
        digits = re.sub(r"\D", "", html)  # however the page formats a number
        for number in callers:
            assert number[1:] in digits, number
        assert proc.returncode is None  # still running after its calls
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        code = await proc.wait()
    assert code == 0
    # The port is free again.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", int(url.rsplit(":", 1)[1].rstrip("/"))))


async def test_demo_web_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await _start("--web", "--port", str(port), "--calls", "1")
        async with asyncio.timeout(60):
            _, err = await proc.communicate()
    assert proc.returncode == 1
    lines = err.decode().strip().splitlines()
    assert lines == [
        f"asterisk-textback: cannot start: web.port {port} is in use on 127.0.0.1 "
        "(Address already in use): stop the other program or set web.port "
        "(or web.enabled = false); for the demo: another --port, or none for a free one"
    ], err.decode()


def test_port_without_web_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from asterisk_textback.cli.main import main

    assert main(["demo", "--port", "8080"]) == 2
    assert "--port goes with --web" in capsys.readouterr().err
