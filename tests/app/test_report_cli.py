"""``asterisk-textback report``: KPIs from our database, history from CDR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from asterisk_textback.cli import main
from tests.cdr.test_celdb import _load

CDR = Path(__file__).resolve().parents[1] / "fixtures" / "cdr" / "Master.csv"


def test_report_from_master_csv_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--cdr", str(CDR), "--period", "2026-11", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    text = json.dumps(data)
    assert "14" in text  # inbound calls in the recording
    assert "11" in text  # missed


def test_report_from_our_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "t.db"}"\n'
        "[kpi]\nsms_cost_per_segment = 0.0079\naverage_order_value = 250\n"
    )
    assert main(["db", "upgrade", "-c", str(cfg)]) == 0
    capsys.readouterr()
    assert main(["report", "-c", str(cfg), "--period", "today", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "missed" in out.lower()


def test_bad_period_names_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--cdr", str(CDR), "--period", "last tuesday"]) == 2
    assert "--period" in capsys.readouterr().err


def test_bad_kpi_setting_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text("[kpi]\nclose_rate_band = [0.5, 0.2]\n")
    assert main(["report", "-c", str(cfg)]) == 2
    assert "kpi.close_rate_band" in capsys.readouterr().err


CEL = Path(__file__).resolve().parents[1] / "fixtures" / "cel" / "Master.csv"


def test_report_with_cel_says_which_log_decided(capsys: pytest.CaptureFixture[str]) -> None:
    """--cel next to --cdr: CEL decides its calls, CDR the rest; the output says so."""
    args = ["report", "--cdr", str(CDR), "--cel", str(CEL), "--period", "2026-11"]
    assert main([*args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "cel+cdr"
    assert (data["sources"]["cel_calls"], data["sources"]["cdr_calls"]) == (15, 15)
    assert data["summary"]["inbound"] == 28
    assert data["summary"]["missed_by_reason"]["abandoned"] == 1
    assert main(["report", "--cel", str(CEL), "--period", "2026-11"]) == 0
    table = capsys.readouterr().out
    assert "classified from CEL (15 calls), CDR used for 0" in table
    assert "Missed: queue_timeout" in table


def test_bad_cel_columns_name_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--cel", str(CEL), "--cel-columns", "eventtype,eventtime"]) == 2
    assert "--cel-columns" in capsys.readouterr().err


def test_cdr_db_uses_its_cel_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--cdr-db reads the cel table when it has events for the period; --no-cel skips it."""
    url = f"sqlite:///{tmp_path / 'asteriskcdrdb.db'}"
    engine = create_engine(url, poolclass=NullPool)
    _load(engine)
    engine.dispose()
    args = ["report", "--cdr-db", url, "--cdr-tz", "UTC", "--period", "2026-11"]
    assert main([*args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["source"], data["sources"]["cel_calls"]) == ("cel+cdr", 15)
    assert main([*args, "--format", "json", "--no-cel"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["source"], data["sources"]["cdr_calls"]) == ("cdr", 15)
