"""Data at rest: the database files are private, the systemd unit is sandboxed (issue 13)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from asterisk_textback.cli.main import main
from asterisk_textback.store.engine import create_engine

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "asterisk-textback.service"
MAX_EXPOSURE = 2.0


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Run like a shell or sudo would: files world-readable unless we say otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
def test_db_upgrade_creates_the_database_0600(tmp_path: Path) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "t.db"}"\n')
    assert main(["db", "upgrade", "-c", str(cfg)]) == 0
    created = [p for p in tmp_path.iterdir() if p.name.startswith("t.db")]
    assert created
    assert {p.name: oct(_mode(p)) for p in created} == {p.name: "0o600" for p in created}
    assert os.umask(0o022) == 0o022  # the command put the caller's umask back


@pytest.mark.parametrize("existing", [False, True], ids=["new", "left-0644-by-an-old-version"])
@pytest.mark.usefixtures("permissive_umask")
async def test_database_wal_and_shm_are_0600_without_the_cli(
    tmp_path: Path, existing: bool
) -> None:
    db = tmp_path / "t.db"
    if existing:
        db.touch()
        db.chmod(0o644)
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            wal, shm = db.with_name("t.db-wal"), db.with_name("t.db-shm")
            assert wal.exists()
            assert shm.exists()
            assert [oct(_mode(p)) for p in (db, wal, shm)] == ["0o600"] * 3
    finally:
        await engine.dispose()


def test_unit_sets_private_umask_and_state_directory() -> None:
    lines = UNIT.read_text().splitlines()
    assert "UMask=0077" in lines
    assert "StateDirectoryMode=0700" in lines
    # What the service needs stays allowed: the network, its state, its config and env file.
    assert "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" in lines
    assert "ReadWritePaths=/var/lib/asterisk-textback" in lines
    assert "EnvironmentFile=-/etc/asterisk-textback/env" in lines
    assert not any(line.startswith(("PrivateNetwork=", "IPAddressDeny=")) for line in lines)


def test_systemd_exposure_is_two_or_lower(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (see .ci/run)")
    done = subprocess.run(
        [tool, "security", "--offline=yes", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert found, done.stdout + done.stderr
    exposure = float(found.group(1))
    print(f"systemd exposure of {UNIT.name}: {exposure}")
    assert exposure <= MAX_EXPOSURE, done.stdout
