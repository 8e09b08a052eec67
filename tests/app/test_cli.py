"""The commands a user types: replay --dry-run, templates preview, db upgrade, run, demo."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from asterisk_textback.cli.demo import run_demo
from asterisk_textback.cli.main import main


def test_replay_dry_run_json_adds_the_decision(
    traces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    traces = [str(traces_dir / n) for n in ("direct-voicemail-left.ami", "direct-answered.ami")]
    assert main(["replay", "--json", "--dry-run", *traces]) == 0
    missed, answered = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    decision = missed["decision"]
    assert decision["action"] == "send"
    assert decision["reason"] is None
    assert decision["template"] == "missed_voicemail"
    assert decision["to"] == "+12125550147"
    assert decision["encoding"] == "GSM-7"
    assert decision["segments"] >= 1
    assert "Reply STOP" in decision["body"]
    # 05:14 UTC is 00:14 in New York (the caller's 212 area): quiet hours defer to 08:00.
    assert missed["ended_at"].startswith("2026-11-27T05:14:10")
    assert decision["send_at"] == "2026-11-27T13:00:00+00:00"
    for key in ("variant", "sender"):
        assert key in decision
    assert answered["decision"]["action"] == "suppress"
    assert answered["decision"]["reason"] == "answered"


def test_replay_dry_run_table(traces_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = str(traces_dir / "internal-call-unanswered.ami")
    assert main(["replay", "--dry-run", trace]) == 0
    assert "-> no text: internal" in capsys.readouterr().out


def test_templates_preview_lists_every_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "textback.toml"
    empty.write_text("")
    assert main(["templates", "preview", "-c", str(empty)]) == 0
    out = capsys.readouterr().out
    for name in ("missed_voicemail", "missed_no_voicemail", "after_hours", "busy", "queue_abandon"):
        assert name in out
    assert "GSM-7" in out


def test_config_errors_name_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text(
        '[business]\nhours = { mon = ["25:00-26:00"] }\n'
        '[[rules]]\ntemplate = "nope"\n'
        '[templates.busy]\nvariants = [{ name = "a", body = "Hi {{ bookng_link }}" }]\n'
    )
    assert main(["templates", "preview", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "business.hours.mon[0]" in err


def test_template_typo_is_caught_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text('[templates.busy]\nvariants = [{ name = "a", body = "Hi {{ bookng_link }}" }]\n')
    assert main(["replay", "--dry-run", "-c", str(cfg)]) == 2
    assert "templates.busy.variants[0].body" in capsys.readouterr().err


def test_unknown_rule_template_is_caught_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text('[[rules]]\ntemplate = "nope"\n')
    assert main(["templates", "preview", "-c", str(cfg)]) == 2
    assert "rules[0].template: template 'nope' not found; templates are:" in capsys.readouterr().err


def test_run_refuses_an_old_schema_then_db_upgrade_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "textback.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "t.db"}"\n'
        "[pbx]\nport = 1\nconnect_timeout = 0.2\n[web]\nenabled = false\n"
    )
    assert main(["run", "-c", str(cfg)]) == 2
    assert "asterisk-textback db upgrade" in capsys.readouterr().err
    assert main(["db", "upgrade", "-c", str(cfg)]) == 0
    assert "up to date" in capsys.readouterr().out


async def test_demo_runs_the_whole_pipeline(tmp_path: Path) -> None:
    out = io.StringIO()
    summary = await asyncio.wait_for(
        run_demo(out, directory=tmp_path, calls=6, rate=6.0, max_gap=0.5), timeout=60
    )
    text = out.getvalue()
    assert summary.calls == 6
    assert summary.texts >= 2
    assert summary.sent == summary.texts
    assert "-> text to +1" in text
    assert "anonymous Anonymous\n          -> no text:" in text
    assert (tmp_path / "textback.db").exists()


def test_the_example_config_loads_and_renders(capsys: pytest.CaptureFixture[str]) -> None:
    example = Path(__file__).resolve().parents[2] / "contrib" / "textback.toml"
    assert main(["templates", "preview", "-c", str(example)]) == 0
    assert "on-a-job" in capsys.readouterr().out
