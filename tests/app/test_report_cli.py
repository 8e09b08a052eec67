"""``asterisk-textback report``: KPIs from our database, history from CDR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from asterisk_textback.cli.main import main
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
    assert "Missed: the queue timed out" in table  # in words, not the raw queue_timeout


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


LOCAL = CDR.parent / "local-ringgroup.csv"


def _config(tmp_path: Path, body: str) -> str:
    cfg = tmp_path / "textback.toml"
    cfg.write_text(body)
    return str(cfg)


@pytest.mark.parametrize(
    ("cdr_timezone", "first_call"),
    [("UTC", "2026-11-27T05:40:05+00:00"), ("America/Chicago", "2026-11-27T11:40:05+00:00")],
)
def test_cdr_times_are_read_in_pbx_cdr_timezone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cdr_timezone: str, first_call: str
) -> None:
    # The business is in New York; the CDR was written with usegmtime=yes (or in Chicago).
    cfg = _config(
        tmp_path,
        f'[business]\ntimezone = "America/New_York"\n[pbx]\ncdr_timezone = "{cdr_timezone}"\n',
    )
    args = ["report", "-c", cfg, "--cdr", str(CDR), "--period", "2026-11", "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["first_call"] == first_call


def test_cdr_tz_option_still_wins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, '[pbx]\ncdr_timezone = "UTC"\n')
    args = ["report", "-c", cfg, "--cdr", str(CDR), "--period", "2026-11", "--format", "json"]
    assert main([*args, "--cdr-tz", "Europe/Berlin"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["first_call"] == "2026-11-27T04:40:05+00:00"


@pytest.mark.parametrize(
    ("body", "extra", "named"),
    [
        ('[pbx]\ncdr_timezone = "Mars/Olympus"\n', [], "pbx.cdr_timezone"),
        ("", ["--cdr-tz", "../etc/passwd"], "--cdr-tz"),
    ],
)
def test_unknown_cdr_zone_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, extra: list[str], named: str
) -> None:
    cfg = _config(tmp_path, body)
    assert main(["report", "-c", cfg, "--cdr", str(CDR), "--period", "2026-11", *extra]) == 2
    err = capsys.readouterr().err
    assert f"error: {named}:" in err
    assert "not a known time zone" in err
    assert "Traceback" not in err


def test_local_legs_are_not_internal_calls(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--cdr", str(LOCAL), "--period", "2026-11", "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert (summary["inbound"], summary["answered"], summary["missed"]) == (2, 1, 1)
    assert summary["internal"] == 0


def test_did_table_columns_line_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--cdr", str(CDR), "--period", "2026-11"]) == 0
    out = capsys.readouterr().out
    table = out.split("Calls by DID\n============\n", 1)[1].split("\n\n", 1)[0].splitlines()
    header, *rows = table
    assert header.split() == ["DID", "Inbound", "Missed", "Missed", "rate"]
    assert len(rows) == 6
    # Each figure ends in the same column as its header.
    for title in ("Inbound", "Missed rate"):
        end = header.index(title) + len(title)
        assert all(row[end - 1] != " " and (len(row) == end or row[end] == " ") for row in rows)
    assert rows[0].split() == ["5550100", "5", "4", "80.0%"]
    assert len({len(row) for row in [header, *rows]}) == 1
