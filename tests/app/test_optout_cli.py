"""``asterisk-textback optout …`` end to end on a SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

from asterisk_textback.cli.main import main


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """A config whose database is migrated."""
    path = tmp_path / "textback.toml"
    path.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "t.db"}"\n')
    assert main(["db", "upgrade", "-c", str(path)]) == 0
    return path


def test_add_list_export_import_remove(
    cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["optout", "add", "-c", str(cfg), "(212) 555-0147"]) == 0
    assert "+12125550147 opted out" in capsys.readouterr().out
    assert main(["optout", "list", "-c", str(cfg)]) == 0
    assert "+12125550147" in capsys.readouterr().out
    exported = tmp_path / "out.csv"
    assert main(["optout", "export", "-c", str(cfg), str(exported)]) == 0
    assert exported.read_text().splitlines()[0] == "e164,opted_out_at,source"
    src = tmp_path / "in.csv"
    src.write_text("e164,opted_out_at,source\n+14155550199,,crm\nnot-a-number,,crm\n")
    assert main(["optout", "import", "-c", str(cfg), str(src)]) == 1
    captured = capsys.readouterr()
    assert "in.csv:3" in captured.err
    assert main(["optout", "remove", "-c", str(cfg), "+12125550147"]) == 0
    capsys.readouterr()
    assert main(["optout", "list", "-c", str(cfg)]) == 0
    listed = capsys.readouterr().out
    assert "+12125550147" not in listed


def test_invalid_number_is_refused(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["optout", "add", "-c", str(cfg), "12"]) == 2
    assert "error" in capsys.readouterr().err
