"""``check`` names the tenant files: a PASS listing them, or a FAIL naming each refused one."""

from __future__ import annotations

from pathlib import Path

import pytest

from asterisk_textback.cli.main import main


def _install(tmp_path: Path) -> Path:
    main_file = tmp_path / "textback.toml"
    main_file.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/t.db"\n'
        '[pbx]\nhost = "127.0.0.1"\nport = 9\n[web]\nenabled = false\n'
    )
    (tmp_path / "tenants.d").mkdir()
    return main_file


def _tenants_line(out: str) -> str:
    (line,) = [x for x in out.splitlines() if "] tenants:" in x]
    return line


def test_every_tenant_file_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _install(tmp_path)
    (tmp_path / "tenants.d" / "acme.toml").write_text('[pbx]\nhost = "10.0.0.5"\n')
    main(["check", "-c", str(config)])
    line = _tenants_line(capsys.readouterr().out)
    assert line.startswith("[PASS]")
    assert "1 tenant file(s) load: acme" in line


def test_a_refused_file_is_named_with_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _install(tmp_path)
    (tmp_path / "tenants.d" / "acme.toml").write_text('[pbx]\nhost = "10.0.0.5"\n')
    (tmp_path / "tenants.d" / "bad.toml").write_text(
        '[pbx]\nhost = "10.0.0.6"\n[database]\nurl = "x"\n'
    )
    assert main(["check", "-c", str(config)]) == 1
    out = capsys.readouterr().out
    line = _tenants_line(out)
    assert line.startswith("[FAIL]")
    assert "bad.toml line 3: database: set in the main config only" in line
    assert "Traceback" not in out


def test_a_single_business_has_no_tenants_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _install(tmp_path)
    main(["check", "-c", str(config)])
    assert "tenants:" not in capsys.readouterr().out
