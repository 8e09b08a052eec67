"""Without ``-c``: the default config file, or "no config: pass -c FILE" — never ./textback.db.

And the database's folder: created (0700) when missing, named with the fix when it cannot
be; a database without tables is one line naming ``db upgrade``, not a traceback.
"""

from __future__ import annotations

import json
import re
import sqlite3
import stat
from pathlib import Path

import pytest

from asterisk_textback.cli.args import CONFIG_ENV, DEFAULT_CONFIG, default_config
from asterisk_textback.cli.main import main
from tests.dbfixtures import PgServer

CDR = Path(__file__).resolve().parents[1] / "fixtures" / "cdr" / "Master.csv"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory; the default config points at a file not there yet."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "etc" / "textback.toml"))
    return folder


def _config(path: Path, database: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{database}"\n')
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["optout", "list"],
        ["report"],
        ["db", "upgrade"],
        ["templates", "preview"],
        ["run"],
        ["send-test", "+12125550147"],
        ["check"],
    ],
)
def test_without_a_config_commands_say_so_and_create_nothing(
    argv: list[str], workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    missing = tmp_path / "etc" / "textback.toml"
    assert err == (f"asterisk-textback: error: no config: pass -c FILE (or create {missing})\n"), (
        argv
    )
    assert list(workdir.iterdir()) == []  # no ./textback.db left behind


def test_the_default_file_is_the_system_one_unless_the_variable_names_another(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert Path("/etc/asterisk-textback/textback.toml") == DEFAULT_CONFIG
    assert default_config({}) == DEFAULT_CONFIG
    assert default_config({CONFIG_ENV: "/srv/tb.toml"}) == Path("/srv/tb.toml")
    if DEFAULT_CONFIG.exists():
        pytest.skip("this machine has a real /etc/asterisk-textback/textback.toml")
    assert main(["optout", "list"]) == 2
    assert f"(or create {DEFAULT_CONFIG})" in capsys.readouterr().err


def test_the_default_file_is_used_when_it_exists(
    workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "state" / "textback.db"
    _config(tmp_path / "etc" / "textback.toml", database)
    assert main(["db", "upgrade"]) == 0
    assert str(database) in capsys.readouterr().out
    assert main(["optout", "add", "+12125550147"]) == 0
    assert main(["optout", "list"]) == 0
    assert "+12125550147" in capsys.readouterr().out
    assert list(workdir.iterdir()) == []


def test_demo_and_replay_run_on_built_in_defaults(
    workdir: Path, traces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(traces_dir / "direct-answered.ami")]) == 0
    assert "answered" in capsys.readouterr().out


def test_a_cdr_report_needs_no_config(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # It reads the PBX's CDR, not our database: the built-in defaults will do.
    assert main(["report", "--cdr", str(CDR), "--period", "2026-11", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)
    assert list(workdir.iterdir()) == []


def test_db_upgrade_creates_the_database_folder_private(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "var" / "lib" / "asterisk-textback" / "textback.db"
    cfg = _config(tmp_path / "textback.toml", database)
    assert main(["db", "upgrade", "-c", str(cfg)]) == 0
    for folder in (database.parent, database.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_a_file_in_the_way_of_the_folder_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("a file where the folder should be")
    database = blocker / "textback.db"
    cfg = _config(tmp_path / "textback.toml", database)
    for argv in (["db", "upgrade"], ["optout", "list"], ["report"]):
        assert main([*argv, "-c", str(cfg)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert f"database folder {blocker} is a file, not a folder" in err
        assert "Traceback" not in err


def test_a_database_without_tables_says_db_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "textback.db"
    sqlite3.connect(database).close()  # an empty file, as an old optout list left behind
    cfg = _config(tmp_path / "textback.toml", database)
    assert main(["report", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"asterisk-textback: error: database {database} has no tables: run "
        "`asterisk-textback db upgrade -c FILE` with this config first\n"
    )
    assert main(["db", "upgrade", "-c", str(cfg)]) == 0
    capsys.readouterr()
    assert main(["report", "-c", str(cfg), "--format", "json"]) == 0
    assert '"kpis"' in capsys.readouterr().out


def test_a_postgresql_database_without_tables_says_db_upgrade(
    tmp_path: Path, pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    name = pg_server.create()
    try:
        cfg = tmp_path / "textback.toml"
        cfg.write_text(f'[database]\nurl = "{pg_server.url(name)}"\n')
        assert main(["report", "-c", str(cfg)]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith("asterisk-textback: error: database postgresql+asyncpg://")
        # Whichever table the command reads first (calls, call_hours...) is named.
        assert re.search(
            f"/{name} has no table [a-z_]+: run `asterisk-textback db upgrade -c FILE` with "
            "this config first$",
            line,
        ), line
    finally:
        pg_server.drop(name)
