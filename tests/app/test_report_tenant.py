"""``report --tenant ID``: one tenant's figures, from its own schema or file, named in the header.

Run on SQLite (a file per tenant) and PostgreSQL (a schema per tenant in one database): two
tenants with different calls, each report shows only its own.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from asterisk_textback.calls.model import Outcome
from asterisk_textback.cli.main import main
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.tenant_scope import scoped_engine, tenant_url
from asterisk_textback.store.uow import unit_of_work
from tests.web.seed import add_call


def _install(tmp_path: Path, url: str) -> Path:
    main_file = tmp_path / "textback.toml"
    main_file.write_text(
        f'[database]\nurl = "{url}"\n[business]\nname = "Main Office"\ntimezone = "UTC"\n'
    )
    folder = tmp_path / "tenants.d"
    folder.mkdir()
    (folder / "acme.toml").write_text(
        '[pbx]\nhost = "10.0.0.5"\n[tenant]\nname = "Acme Dental"\n'
        '[business]\nname = "Acme Dental"\n'
    )
    return main_file


async def _seed(url: str, tenant: str, missed: int, answered: int) -> None:
    """``missed`` texted missed calls and ``answered`` answered ones, an hour ago."""
    engine = create_engine(tenant_url(url, tenant))
    try:
        sessions = create_session_factory(scoped_engine(engine, tenant))
        at = datetime.now(UTC) - timedelta(hours=1)
        async with unit_of_work(sessions) as db:
            for n in range(missed + answered):
                outcome = Outcome.MISSED_NO_VOICEMAIL if n < missed else Outcome.ANSWERED
                await add_call(db, n, outcome, f"+1212555{n:04d}", f"Caller {n}", at=at)
    finally:
        await engine.dispose()


def test_each_tenant_report_shows_only_its_own_calls(
    tmp_path: Path, empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _install(tmp_path, empty_url)
    assert main(["db", "upgrade", "-c", str(config)]) == 0
    asyncio.run(_seed(empty_url, "default", missed=3, answered=2))
    asyncio.run(_seed(empty_url, "acme", missed=1, answered=4))
    capsys.readouterr()

    assert main(["report", "-c", str(config), "--tenant", "acme", "--format", "json"]) == 0
    acme = json.loads(capsys.readouterr().out)
    assert main(["report", "-c", str(config), "--tenant", "default", "--format", "json"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert main(["report", "-c", str(config), "--format", "json"]) == 0
    plain = json.loads(capsys.readouterr().out)

    def missed_rate(data: dict[str, object]) -> tuple[object, object]:
        (kpi,) = (k for k in data["kpis"] if k["key"] == "missed_call_rate")  # type: ignore[attr-defined]
        return kpi["numerator"], kpi["denominator"]

    assert acme["tenant"] == "acme"
    assert missed_rate(acme) == (1, 5)
    assert default["tenant"] == "default"
    assert missed_rate(default) == (3, 5)
    # Without --tenant: the main config's business, as before tenants (no tenant key).
    assert "tenant" not in plain
    assert missed_rate(plain) == (3, 5)

    assert main(["report", "-c", str(config), "--tenant", "acme"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].startswith("Tenant acme (Acme Dental): KPIs, ")
    assert main(["report", "-c", str(config), "--tenant", "acme", "--format", "csv"]) == 0
    assert "report,tenant,Tenant,acme" in capsys.readouterr().out.replace("\r", "")


def test_an_unknown_tenant_names_those_there_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _install(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'main.db'}")
    assert main(["report", "-c", str(config), "--tenant", "nobody"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "asterisk-textback: error: --tenant: no tenant 'nobody'; the tenants are: default, acme"
    )


def test_a_refused_tenant_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _install(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'main.db'}")
    (tmp_path / "tenants.d" / "broken.toml").write_text("[business]\ntimezone = 'Mars/Base'\n")
    assert main(["report", "-c", str(config), "--tenant", "broken"]) == 2
    err = capsys.readouterr().err
    assert "--tenant broken: this tenant does not load:" in err
    assert "business.timezone" in err
    assert len(err.strip().splitlines()) == 1


def test_tenant_needs_a_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEXTBACK_CONFIG", str(tmp_path / "missing.toml"))
    cdr = Path(__file__).resolve().parents[1] / "fixtures" / "cdr" / "Master.csv"
    assert main(["report", "--cdr", str(cdr), "--tenant", "acme"]) == 2
    assert "no config: pass -c FILE" in capsys.readouterr().err
