"""``asterisk-textback report``: KPIs from our database, history from CDR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asterisk_textback.cli import main

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
