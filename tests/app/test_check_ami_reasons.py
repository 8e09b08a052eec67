"""``check`` says why the AMI login failed, after one bounded attempt, with one fix line.

Real sockets only: a closed port (refused), a listening socket that never answers (timeout),
the in-repo AMI server with a wrong secret (login refused) and with TLS on one side only,
a server that greets like SSH (not AMI), one that sends garbage, and a name that does not
resolve.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.cli.check_report import CheckResult, format_results
from asterisk_textback.cli.checks import run_checks
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.textback.loading import PreparedConfig, prepare
from tests.ami.test_connection import make_cert
from tests.app.checkfmt import assert_one_fix_per_fail, line_of, status_of

TIMEOUT = 0.5
ENV = {"AMI_SECRET": "s3cret"}


def _loaded(tmp_path: Path, port: int, **pbx: Any) -> PreparedConfig:
    return prepare(
        settings_from_mapping(
            {
                "pbx": {
                    "port": port,
                    "secret_env": "AMI_SECRET",
                    "connect_timeout": TIMEOUT,
                    "reconnect_min": 0.05,
                    "reconnect_max": 0.05,
                    **pbx,
                },
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 't.db'}"},
            }
        )
    )


async def _check(
    loaded: PreparedConfig, caplog: pytest.LogCaptureFixture, env: dict[str, str] = ENV
) -> tuple[str, float]:
    """The report and how long it took; no AMI warning may have been logged meanwhile."""
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="asterisk_textback.ami"):
        results: list[CheckResult] = await run_checks(loaded, env, watch=0)
    took = time.monotonic() - started
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "retry" in m or "reconnect" in m], messages
    report = format_results(results)
    assert_one_fix_per_fail(report)
    # Every check prints its line, whatever the AMI did.
    assert list(status_of(report)) == [
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
    return report, took


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@asynccontextmanager
async def _server(send: Callable[[asyncio.StreamWriter], None]) -> AsyncIterator[int]:
    """A TCP server that greets each client with ``send`` (and keeps the socket open)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        send(writer)
        await writer.drain()
        await reader.read()  # until the client goes
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_refused_says_refused_and_where_to_look_after_one_attempt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report, took = await _check(_loaded(tmp_path, _closed_port()), caplog)
    ami = line_of(report, "ami")
    assert "[FAIL] ami: no AMI login: connection refused" in ami
    for place in ("systemctl status asterisk", "enabled = yes", "bindaddr", "firewall"):
        assert place in ami, place
    assert status_of(report)["dialplan"] == "SKIP"
    assert took < 3 * TIMEOUT + 1  # one attempt, not five reconnects over 10 s


async def test_a_port_that_never_answers_is_a_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as silent:  # listens (the kernel accepts) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        report, took = await _check(_loaded(tmp_path, silent.getsockname()[1]), caplog)
    ami = line_of(report, "ami")
    assert f"sent no AMI greeting within {TIMEOUT:g} s" in ami
    assert "pbx.tls = true" in ami  # a TLS-only port is silent too
    assert took < 3 * TIMEOUT + 1


async def test_a_wrong_secret_is_a_refused_login_naming_manager_conf(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with AmiServer({"textback": "s3cret"}) as server:
        report, _ = await _check(_loaded(tmp_path, server.port), caplog, {"AMI_SECRET": "wrong"})
    ami = line_of(report, "ami")
    assert "login refused" in ami
    assert "'textback'" in ami
    assert "[textback] section" in ami
    assert "AMI_SECRET" in ami
    assert "permit=" in ami


async def test_tls_on_one_side_only_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with AmiServer({"textback": "s3cret"}) as plain:
        report, _ = await _check(_loaded(tmp_path, plain.port, tls=True), caplog)
    ami = line_of(report, "ami")
    assert "TLS handshake with 127.0.0.1" in ami, ami
    assert "pbx.tls = false" in ami
    cert, key = make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    async with AmiServer({"textback": "s3cret"}, ssl_context=context) as secure:
        report, _ = await _check(_loaded(tmp_path, secure.port), caplog)
        assert "sent no AMI greeting" in line_of(report, "ami")
        report, _ = await _check(_loaded(tmp_path, secure.port, tls=True), caplog)
        assert "does not verify" in line_of(report, "ami")
        assert "pbx.tls_ca_file" in line_of(report, "ami")
        trusted = _loaded(tmp_path, secure.port, tls=True, tls_ca_file=str(cert))
        report, _ = await _check(trusted, caplog)
    assert "[PASS] ami: logged in to 127.0.0.1" in report


async def test_a_port_that_is_not_ami_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with _server(lambda w: w.write(b"SSH-2.0-OpenSSH_9.6\r\n")) as port:
        report, _ = await _check(_loaded(tmp_path, port), caplog)
    assert f"127.0.0.1:{port} is not an AMI port" in line_of(report, "ami")


async def test_garbage_is_a_fail_line_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    noise = os.urandom(4096).replace(b"\n", b"")
    async with _server(lambda w: w.write(noise)) as port:
        report, _ = await _check(_loaded(tmp_path, port), caplog)
    assert status_of(report)["ami"] == "FAIL"
    assert "not an AMI port" in line_of(report, "ami")


async def test_a_host_that_does_not_resolve(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report, _ = await _check(_loaded(tmp_path, 5038, host="pbx.no-such-host.invalid"), caplog)
    ami = line_of(report, "ami")
    assert "host name 'pbx.no-such-host.invalid' does not resolve" in ami
    assert "fix: look at pbx.host" in ami


async def test_without_the_secret_it_only_reads_the_greeting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with AmiServer({"textback": "s3cret"}) as server:
        report, _ = await _check(_loaded(tmp_path, server.port), caplog, {})
        tried = server.logged_in
    assert "[SKIP] ami: Asterisk Call Manager/" in report
    assert "login not tried: AMI_SECRET not set (see environment)" in report
    assert tried == 0  # no login with a made-up secret (fail2ban watches failed logins)
    report, _ = await _check(_loaded(tmp_path, _closed_port()), caplog, {})
    assert "[FAIL] ami: no AMI: connection refused" in report
