"""``consent export`` from the command line: its errors are one line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asterisk_textback.cli.main import main


def _toml(tmp_path: Path, url: str) -> Path:
    contrib = (Path(__file__).parents[2] / "contrib" / "textback.toml").read_text("utf-8")
    path = tmp_path / "textback.toml"
    old = 'url = "sqlite+aiosqlite:////var/lib/asterisk-textback/textback.db"'
    assert old in contrib
    path.write_text(contrib.replace(old, f'url = "{url}"'), encoding="utf-8")
    return path


@pytest.fixture
def backend() -> str:
    """The CLI's own checks: SQLite (test_evidence.py runs the store on both backends)."""
    return "sqlite"


def test_the_cli_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    path = _toml(tmp_path, db_url)
    assert main(["consent", "export", "-c", str(path), "--all", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["consent", "export", "-c", str(path), "+12125550100"]) == 1
    assert "no calls, texts or opt-outs" in capsys.readouterr().err
    missing = _toml(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'none.db'}")
    assert main(["consent", "export", "-c", str(missing), "--all"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err
    assert "Traceback" not in err
    assert not (tmp_path / "none.db").exists()
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database " * 100)
    path = _toml(tmp_path, f"sqlite+aiosqlite:///{broken}")
    assert main(["consent", "export", "-c", str(path), "--all"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("asterisk-textback: error:")
    assert "Traceback" not in err
    with pytest.raises(SystemExit) as usage:  # neither NUMBER nor --all
        main(["consent", "export", "-c", str(path)])
    assert usage.value.code == 2
    assert "one of the arguments number --all is required" in capsys.readouterr().err
