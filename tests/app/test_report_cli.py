"""``asterisk-textback report``: KPIs from our database, history from CDR."""

from __future__ import annotations

import csv
import io
import json
import re
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


NY_CONFIG = '[business]\ntimezone = "America/New_York"\n[pbx]\ncdr_timezone = "UTC"\n'


def _calculator(out: str) -> str:
    return out.split("Missed call revenue calculator\n", 1)[1].split("\nSource:", 1)[0]


def test_aov_and_close_rate_flags_give_formulas_and_the_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """11 missed calls in Master.csv: 11 × 30% × 77 = 254.10; 20% -> 169.40; 40% -> 338.80."""
    cfg = _config(tmp_path, NY_CONFIG + "[kpi]\naverage_order_value = 1000\n")
    args = ["report", "-c", cfg, "--cdr", str(CDR), "--period", "2026-11"]
    assert main([*args, "--aov", "77", "--close-rate", "20-40"]) == 0
    out = capsys.readouterr().out
    assert "Times in America/New_York." in out
    assert "Nov 1, 2026 to Nov 30, 2026" in out
    calc = _calculator(out)
    assert "77.00 USD  from --aov" in calc
    assert "1,000" not in calc  # the flag overrides kpi.average_order_value
    assert "11 missed calls × 30% × 77.00 USD = 254.10 USD" in calc
    assert "11 missed calls × 20% × 77.00 USD = 169.40 USD" in calc
    assert "11 missed calls × 40% × 77.00 USD = 338.80 USD" in calc
    assert "from --close-rate." in calc
    assert "What this means:" in calc
    assert "No average order value" not in out


def test_csv_is_rounded_to_the_currency_and_local(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """11 × 35% = 3.8499999999999996 in floating point: the CSV says 3.85 and 296.45."""
    cfg = _config(tmp_path, NY_CONFIG)
    args = ["report", "-c", cfg, "--cdr", str(CDR), "--period", "2026-11", "--format", "csv"]
    assert main([*args, "--aov", "77", "--close-rate", "20-35"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    by_key = {(r["section"], r["key"]): r for r in rows}
    high = by_key[("calculator", "revenue_left_high")]
    assert (high["value"], high["numerator"]) == ("296.45", "3.85")
    assert high["definition"] == "11 missed calls × 35% × 77.00 USD = 296.45 USD"
    assert by_key[("calculator", "average_order_value")]["value"] == "77.00"
    assert by_key[("cdr", "missed_rate")]["value"] == "0.7857"
    assert by_key[("report", "timezone")]["value"] == "America/New_York"
    # 05:40:05 UTC in the CDR is 00:40:05 in New York, written as a spreadsheet reads it.
    assert by_key[("cdr", "first_call")]["value"] == "2026-11-27 00:40:05"
    assert by_key[("report", "start")]["value"] == "2026-11-01 00:00:00"
    numbers = [cell for r in rows for cell in (r["value"], r["numerator"]) if cell]
    long_decimals = [n for n in numbers if re.fullmatch(r"-?\d+\.\d{5,}", n)]
    assert long_decimals == []


def test_a_currency_without_cents_is_rounded_to_whole_units(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """JPY: 11 × 25% × 1237 = 3401.75 -> 3,402 JPY (no decimals), in text and CSV."""
    cfg = _config(tmp_path, NY_CONFIG + '[kpi]\ncurrency = "JPY"\n')
    args = ["report", "-c", cfg, "--cdr", str(CDR), "--period", "2026-11", "--aov", "1237"]
    assert main([*args, "--close-rate", "25"]) == 0
    assert "11 missed calls × 25% × 1,237 JPY = 3,402 JPY" in capsys.readouterr().out
    assert main([*args, "--close-rate", "25", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    point = next(r for r in rows if r["key"] == "revenue_left_point")
    assert point["value"] == "3402"


def test_without_an_order_value_the_flag_is_named_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, NY_CONFIG)
    assert main(["report", "-c", cfg, "--cdr", str(CDR), "--period", "2026-11"]) == 0
    out = capsys.readouterr().out
    hint = "No average order value: pass --aov 250 or set kpi.average_order_value"
    assert out.count(hint) == 1
    assert out.count("--aov") == 1
    calc = _calculator(out)
    assert "n/a" not in calc
    assert "unknown" not in out
    # What can be said without a value is still said: the bookings the close rates imply.
    assert "11 missed calls × 35% = 3.85 bookings" in calc


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("40-20", "'40-20': the low end is above the high end; write it as 20-40"),
        ("120-130", "'120-130': close rates are percentages from 0 to 100"),
        ("abc", "'abc' is not a range: give LOW-HIGH in percent, e.g. 20-40"),
        ("20-", "'20-' is not a range"),
    ],
)
def test_a_bad_close_rate_is_a_clear_usage_error(
    capsys: pytest.CaptureFixture[str], value: str, says: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["report", "--cdr", str(CDR), "--close-rate", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --close-rate: {says}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["-5", "lots", "nan"])
def test_a_bad_aov_is_a_clear_usage_error(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--cdr", str(CDR), "--aov", value])
    assert "argument --aov: " in capsys.readouterr().err
