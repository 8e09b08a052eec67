"""A part that cannot start stops every part started before it; ``run`` says why in one line.

Real failures only: a port bound by someone else, a file that is not a database, a PBX that
refuses the login. After each, nothing may be left: no asyncio task, no listening socket,
no open database file, no AMI session.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.app.service import RunningService, serve
from asterisk_textback.cli.main import main
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.errors import StartupError
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.loading import prepare


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def taken() -> Iterator[int]:
    """A port someone else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _listened_on(port: int) -> bool:
    """True while something listens on ``port`` (TIME_WAIT leftovers do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _open_files(db: Path) -> list[str]:
    """This process's descriptors on the database file (or its -wal / -shm)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(db)):
            found.append(target)
    return found


def _other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


def _config(db: Path, *, ami_port: int, web_port: int, agi_port: int, secret: str = "pw") -> Any:
    return settings_from_mapping(
        {
            "pbx": {"port": ami_port, "secret": secret, "connect_timeout": 0.5},
            "database": {"url": f"sqlite+aiosqlite:///{db}"},
            "web": {"port": web_port},
            "agi": {"enabled": True, "port": agi_port},
        }
    )


def _toml(path: Path, db: Path, *, web_port: int, agi_port: int) -> Path:
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{db}"\n'
        "[pbx]\nport = 1\nconnect_timeout = 0.2\n"
        f"[web]\nport = {web_port}\n[agi]\nenabled = true\nport = {agi_port}\n"
    )
    return path


def _one_line(err: str, problem: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "cannot start" in line]
    assert len(lines) == 1, err
    assert problem in lines[0]
    return lines[0]


async def test_agi_port_in_use_stops_what_started_before_it(tmp_path: Path, taken: int) -> None:
    """The web listener, recorder, dispatcher and CRM poster were running: all stopped."""
    db = tmp_path / "t.db"
    await upgrade(f"sqlite+aiosqlite:///{db}")
    web = _free_port()
    async with AmiServer({"textback": "pw"}) as pbx:
        settings = _config(db, ami_port=pbx.port, web_port=web, agi_port=taken)
        with pytest.raises(
            StartupError,
            match=rf"agi\.port {taken} is in use .*: stop the other program or set agi\.port",
        ):
            await serve(prepare(settings), asyncio.Event(), environ={})
        assert pbx.logged_in == 0  # AMI starts after FastAGI: never reached
    assert not _listened_on(web)
    assert not _other_tasks()
    assert not _open_files(db)


async def test_web_port_in_use_leaves_no_database_open(tmp_path: Path, taken: int) -> None:
    db = tmp_path / "t.db"
    await upgrade(f"sqlite+aiosqlite:///{db}")
    agi = _free_port()
    settings = _config(db, ami_port=1, web_port=taken, agi_port=agi)
    with pytest.raises(StartupError, match=rf"web\.port {taken} is in use .*set web\.port"):
        await serve(prepare(settings), asyncio.Event(), environ={})
    assert not _listened_on(agi)
    assert not _other_tasks()
    assert not _open_files(db)


async def test_a_failure_once_everything_runs_unwinds_it_all(tmp_path: Path) -> None:
    """The last moment start-up can fail (``on_ready``): AMI session, ports, tasks all gone."""
    db = tmp_path / "t.db"
    await upgrade(f"sqlite+aiosqlite:///{db}")
    web, agi = _free_port(), _free_port()
    async with AmiServer({"textback": "pw"}) as pbx:
        settings = _config(db, ami_port=pbx.port, web_port=web, agi_port=agi)

        async def fail(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            assert pbx.logged_in == 1
            assert _listened_on(web)
            assert _listened_on(agi)
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await serve(prepare(settings), asyncio.Event(), environ={}, on_ready=fail)
        await asyncio.sleep(0.05)  # the simulator notices the closed session
        assert pbx.logged_in == 0
    assert not _listened_on(web)
    assert not _listened_on(agi)
    assert not _other_tasks()
    assert not _open_files(db)


async def test_refused_ami_login_stops_everything_and_names_the_fix(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    await upgrade(f"sqlite+aiosqlite:///{db}")
    web, agi = _free_port(), _free_port()
    async with AmiServer({"textback": "pw"}) as pbx:
        settings = _config(db, ami_port=pbx.port, web_port=web, agi_port=agi, secret="wrong")
        with pytest.raises(StartupError, match=r"login refused.*check pbx\.username") as caught:
            await asyncio.wait_for(serve(prepare(settings), asyncio.Event(), environ={}), 10)
    assert "\n" not in str(caught.value)
    assert not _listened_on(web)
    assert not _listened_on(agi)
    assert not _other_tasks()
    assert not _open_files(db)


def test_run_exits_1_with_one_line_when_a_port_is_taken(
    tmp_path: Path, taken: int, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "t.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{db}"))
    web = _free_port()
    cfg = _toml(tmp_path / "textback.toml", db, web_port=web, agi_port=taken)
    assert main(["run", "-c", str(cfg)]) == 1
    line = _one_line(capsys.readouterr().err, f"agi.port {taken} is in use on 127.0.0.1")
    assert "stop the other program or set agi.port" in line
    assert not _listened_on(web)
    cfg = _toml(tmp_path / "textback.toml", db, web_port=taken, agi_port=web)
    assert main(["run", "-c", str(cfg)]) == 1
    line = _one_line(capsys.readouterr().err, f"web.port {taken} is in use on 127.0.0.1")
    assert "stop the other program or set web.port" in line


def test_run_exits_1_with_one_line_on_a_file_that_is_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "t.db"
    db.write_bytes(b"these are not the bytes of a SQLite database\n" * 200)
    web, agi = _free_port(), _free_port()
    cfg = _toml(tmp_path / "textback.toml", db, web_port=web, agi_port=agi)
    assert main(["run", "-c", str(cfg)]) == 1
    line = _one_line(capsys.readouterr().err, "cannot open the database")
    assert "file is not a database" in line
    assert "[database] url" in line
    assert not _listened_on(web)
    assert not _listened_on(agi)
    assert not _open_files(db)
