"""``asterisk-textback tenant add|list|check|remove``: every path, and never a traceback."""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from asterisk_textback.cli import tenant_add
from asterisk_textback.cli.main import main
from asterisk_textback.errors import ConfigError
from asterisk_textback.tenancy.files import load_tenant, load_tenants


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """A main config that is a business with a sender number of its own."""
    path = tmp_path / "textback.toml"
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "main.db"}"\n'
        '[business]\ntimezone = "America/Denver"\n'
        '[provider]\ndefault_sender = "+12125550100"\n'
        "[agi]\nenabled = true\nport = 4573\n"
    )
    return path


def _folder(cfg: Path) -> Path:
    return cfg.parent / "tenants.d"


def test_add_writes_a_private_valid_starter_and_says_what_next(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["tenant", "add", "acme-dental", "--name", 'Acme "Dental"', "-c", str(cfg)]
    assert main([*args, "--did", "212-555-0199", "2125550198"]) == 0
    out = capsys.readouterr().out
    path = _folder(cfg) / "acme-dental.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(_folder(cfg).stat().st_mode) == 0o750
    assert [p.name for p in _folder(cfg).iterdir()] == ["acme-dental.toml"]
    settings = load_tenant(cfg, "acme-dental").loaded.settings
    assert settings.tenant.name == 'Acme "Dental"'
    assert settings.tenant.dids == ("212-555-0199", "2125550198")
    assert settings.business.timezone == "America/Denver"
    # Kept valid beside the main business: its number cleared, its AGI port left to it.
    assert settings.provider.default_sender == ""
    assert settings.agi.enabled is False
    assert settings.web.dashboard.username == "acme-dental"
    assert settings.web.dashboard.api_token_env == "TEXTBACK_API_TOKEN_ACME_DENTAL"
    text = path.read_text()
    assert "# password_hash" in text
    assert "asterisk-textback web passwd" in text
    assert f"asterisk-textback db upgrade -c {cfg}" in out
    assert "systemctl reload asterisk-textback" in out
    assert "dashboard: /t/acme-dental/" in out
    assert "webhooks:  /t/acme-dental/webhooks/<provider>" in out


def test_add_with_its_own_pbx_and_a_public_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "m.db"}"\n'
        '[web.webhooks]\npublic_base_url = "https://tb.example.com/"\n'
        '[provider]\nname = "telnyx"\n[provider.telnyx]\n'
    )
    assert main(["tenant", "add", "bob", "--pbx-host", "10.1.2.3", "-c", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "dashboard: https://tb.example.com/t/bob/" in out
    assert "webhooks:  https://tb.example.com/t/bob/webhooks/telnyx" in out
    pbx = load_tenant(cfg, "bob").loaded.settings.pbx
    assert (pbx.name, pbx.host, pbx.secret_env) == ("bob", "10.1.2.3", "TEXTBACK_AMI_SECRET_BOB")


@pytest.mark.parametrize(
    ("tenant_id", "words"), [("Acme", "is not allowed"), ("default", "is reserved")]
)
def test_add_refuses_a_bad_id(
    cfg: Path, capsys: pytest.CaptureFixture[str], tenant_id: str, words: str
) -> None:
    assert main(["tenant", "add", tenant_id, "--did", "2125550199", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("asterisk-textback: error: ")
    assert words in err
    assert err.count("\n") == 1
    assert not _folder(cfg).exists()


def test_add_refuses_an_existing_id_and_leaves_it(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _folder(cfg).mkdir()
    (_folder(cfg) / "acme.toml").write_text("# mine\n")
    assert main(["tenant", "add", "acme", "--did", "2125550199", "-c", str(cfg)]) == 2
    assert "tenant 'acme' exists already" in capsys.readouterr().err
    assert (_folder(cfg) / "acme.toml").read_text() == "# mine\n"


def test_add_keeps_nothing_that_would_be_refused(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Same PBX link as the main business, nothing telling the calls apart.
    assert main(["tenant", "add", "acme", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "pbx: the PBX link 127.0.0.1:5038" in err
    assert "--did or --pbx-host" in err
    assert "was not kept" in err
    assert err.count("\n") == 1
    assert list(_folder(cfg).iterdir()) == []
    # A DID that is no phone number: the key is named.
    assert main(["tenant", "add", "acme", "--did", "12", "-c", str(cfg)]) == 2
    assert "tenant.dids" in capsys.readouterr().err
    assert list(_folder(cfg).iterdir()) == []


def test_add_refuses_to_take_a_did_from_a_running_tenant(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "add", "zed", "--did", "2125550101", "-c", str(cfg)]) == 0
    # acme sorts before zed: it would load, and zed would be refused at the next reload.
    assert main(["tenant", "add", "acme", "--did", "2125550101", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "it would refuse tenant 'zed'" in err
    assert sorted(p.name for p in _folder(cfg).iterdir()) == ["zed.toml"]


def test_add_with_a_bad_main_config_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text("[business]\nnope = 1\n")
    assert main(["tenant", "add", "acme", "-c", str(cfg)]) == 2
    assert "unknown key 'business.nope'" in capsys.readouterr().err
    assert not _folder(cfg).exists()


def test_add_reports_a_folder_it_cannot_create(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _folder(cfg).write_text("a file where the folder should be")
    assert main(["tenant", "add", "acme", "--did", "2125550199", "-c", str(cfg)]) == 2
    assert "cannot create the tenant folder" in capsys.readouterr().err


def test_concurrent_adds_of_one_id_write_it_once(cfg: Path) -> None:
    _folder(cfg).mkdir()
    start = threading.Barrier(6)

    def add(name: str) -> str:
        start.wait()
        try:
            tenant_add.add(
                cfg, "acme", name=name, dids=["2125550199"], pbx_host=None, out=io.StringIO()
            )
        except ConfigError as exc:
            return str(exc)
        return "ok"

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(add, [f"Acme {n}" for n in range(6)]))
    assert results.count("ok") == 1
    assert all("exists already" in r for r in results if r != "ok")
    winner = results.index("ok")
    assert load_tenant(cfg, "acme").name == f"Acme {winner}"
    assert [p.name for p in _folder(cfg).iterdir()] == ["acme.toml"]


def test_add_reports_a_file_it_cannot_write(
    cfg: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tenant_add.tempfile, "mkstemp", full)
    assert main(["tenant", "add", "acme", "--did", "2125550199", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "acme.toml: cannot write the tenant file: No space left on device" in err
    assert list(_folder(cfg).iterdir()) == []


def _two_tenants(cfg: Path) -> Path:
    assert main(["tenant", "add", "acme", "--did", "2125550199", "-c", str(cfg)]) == 0
    broken = _folder(cfg) / "broken.toml"
    broken.write_text("[tenant]\n[database]\nurl = 'x'\n")
    return broken


def test_list_shows_every_tenant_and_why_one_is_refused(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = _two_tenants(cfg)
    capsys.readouterr()
    assert main(["tenant", "list", "-c", str(cfg)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["ID", "NAME"]
    assert lines[1].startswith("default (main config)")
    assert "default 127.0.0.1:5038" in lines[1]
    assert "+12125550100" in lines[1]
    assert lines[1].endswith("ok")
    assert lines[2].startswith("acme ")
    assert lines[2].endswith("ok")
    assert lines[3].startswith("broken ")
    assert lines[3].endswith(
        f"refused: {broken} line 2: database: set in the main config only "
        "(one database serves every tenant)"
    )


def test_list_json_is_for_scripts(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _two_tenants(cfg)
    capsys.readouterr()
    assert main(["tenant", "list", "--json", "-c", str(cfg)]) == 0
    rows = json.loads(capsys.readouterr().out)["tenants"]
    assert [(r["id"], r["status"]) for r in rows] == [
        ("default", "ok"),
        ("acme", "ok"),
        ("broken", "refused"),
    ]
    assert rows[0]["file"] is None
    assert rows[0]["senders"] == ["+12125550100"]
    assert rows[1]["pbx_links"] == [{"name": "default", "host": "127.0.0.1", "port": 5038}]
    assert "database" in rows[2]["reason"]


def test_check_passes_and_fails_per_tenant(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = _two_tenants(cfg)
    capsys.readouterr()
    assert main(["tenant", "check", "acme", "-c", str(cfg)]) == 0
    assert capsys.readouterr().out == "[PASS] acme\n"
    assert main(["tenant", "check", "-c", str(cfg)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "[PASS] default (main config)",
        "[PASS] acme",
        f"[FAIL] broken: {broken} line 2: database: set in the main config only "
        "(one database serves every tenant)",
    ]
    assert main(["tenant", "check", "broken", "-c", str(cfg)]) == 1
    assert main(["tenant", "check", "nobody", "-c", str(cfg)]) == 2
    assert "no tenant 'nobody'" in capsys.readouterr().err
    broken.unlink()
    assert main(["tenant", "check", "-c", str(cfg)]) == 0


def test_remove_moves_the_file_aside_and_keeps_the_rows(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "add", "acme", "--did", "2125550199", "-c", str(cfg)]) == 0
    original = (_folder(cfg) / "acme.toml").read_text()
    capsys.readouterr()
    # Not asked (stdin is no terminal under pytest) and no --yes: nothing moves.
    assert main(["tenant", "remove", "acme", "-c", str(cfg)]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert (_folder(cfg) / "acme.toml").exists()
    assert main(["tenant", "remove", "acme", "--yes", "-c", str(cfg)]) == 0
    out = capsys.readouterr().out
    (moved,) = (_folder(cfg) / "removed").iterdir()
    assert moved.name.startswith("acme.")
    assert moved.read_text() == original
    assert not (_folder(cfg) / "acme.toml").exists()
    assert f"{cfg.parent}/tenants/acme.db" in out
    assert "systemctl reload asterisk-textback" in out
    assert [t.id for t in load_tenants(cfg).tenants] == ["default"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "moved"), [("y", True), ("n", False), (None, False)])
def test_remove_asks_on_a_terminal(
    cfg: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str | None,
    moved: bool,
) -> None:
    assert main(["tenant", "add", "acme", "--did", "2125550199", "-c", str(cfg)]) == 0
    capsys.readouterr()

    def reply(prompt: str) -> str:
        assert "acme.toml aside" in prompt
        if answer is None:
            raise EOFError
        return answer

    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr("builtins.input", reply)
    assert main(["tenant", "remove", "acme", "-c", str(cfg)]) == (0 if moved else 1)
    assert (_folder(cfg) / "acme.toml").exists() is not moved
    if not moved:
        assert capsys.readouterr().out == "nothing changed\n"


def test_remove_of_an_unknown_or_bad_id_is_one_line(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "remove", "nobody", "--yes", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "no tenant 'nobody'" in err
    assert err.count("\n") == 1
    assert main(["tenant", "remove", "../etc", "--yes", "-c", str(cfg)]) == 2
    assert "is not allowed" in capsys.readouterr().err


def test_removing_twice_in_one_second_keeps_both_copies(tmp_path: Path) -> None:
    folder = tmp_path / "removed"
    folder.mkdir()
    for text in ("one", "two"):
        live = tmp_path / "acme.toml"
        live.write_text(text)
        tenant_add._move_aside(live, folder, "acme.20260101T000000Z")
    assert sorted((p.name, p.read_text()) for p in folder.iterdir()) == [
        ("acme.20260101T000000Z-2.toml", "two"),
        ("acme.20260101T000000Z.toml", "one"),
    ]


def test_remove_on_postgresql_names_the_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text('[database]\nurl = "postgresql+asyncpg://u@db/textback"\n')
    (tmp_path / "tenants.d").mkdir()
    (tmp_path / "tenants.d" / "acme-dental.toml").write_text("")
    assert main(["tenant", "remove", "acme-dental", "--yes", "-c", str(cfg)]) == 0
    assert "schema tenant_acme_dental" in capsys.readouterr().out


def test_a_failure_prints_no_traceback(cfg: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "asterisk_textback", "tenant", "add", "acme", "-c", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("asterisk-textback: error: ")
