"""``templates preview``: every template and variant, its encoding and segment count."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from asterisk_textback.cli.main import main
from asterisk_textback.config import Settings
from asterisk_textback.templates import TemplatesSettings
from asterisk_textback.templates.compose import sample_call
from asterisk_textback.templates.preview import PreviewRow, format_table, note, preview_rows
from asterisk_textback.textback.loading import prepare

TOML = """
[business]
name = "Acme Plumbing"

[templates]
include_defaults = false

[[templates.hello.variants]]
name = "a"
body = "Hi {{ first_name }}!"

[[templates.hello.variants]]
name = "b"
body = "Hi 👋\\nsee you"

[[rules]]
template = "hello"
"""


def test_rows_cover_every_variant() -> None:
    settings = Settings.model_validate({"business": {"booking_link": "https://a.example/b"}})
    rows = preview_rows(settings, prepare(settings).renderer)
    templates = settings.templates
    assert [(r.template, r.variant) for r in rows] == [
        (name, v.name) for name, spec in templates.templates.items() for v in spec.variants
    ]
    for row in rows:
        assert row.body.endswith("\n" + templates.footer)
        assert row.encoding == "GSM-7"
        assert 1 <= row.segments <= templates.max_segments
        assert row.chars == len(row.body)
        assert "https://a.example/b" not in row.body or "https://a.example/b?tb=" in row.body


def test_the_sample_call_fills_in_the_sample_caller() -> None:
    settings = Settings.model_validate(tomllib.loads(TOML))
    call = sample_call()
    assert (call.caller_name, call.missed) == ("Jordan Smith", True)
    [first, *_] = preview_rows(settings, prepare(settings).renderer, call)
    assert first.body.startswith("Hi Jordan!")


def test_rows_and_table() -> None:
    settings = Settings.model_validate(tomllib.loads(TOML))
    rows = preview_rows(settings, prepare(settings).renderer)
    assert rows == [
        PreviewRow("hello", "a", "Hi Jordan!\nReply STOP to opt out.", "GSM-7", 1, 33),
        PreviewRow("hello", "b", "Hi 👋\nsee you\nReply STOP to opt out.", "UCS-2", 1, 35),
    ]
    table = format_table(rows)
    assert table.splitlines() == [
        "template  variant  encoding  segments  chars  body",
        "--------  -------  --------  --------  -----  ----",
        "hello     a        GSM-7            1     33  Hi Jordan!\\nReply STOP to opt out.",
        "hello     b        UCS-2            1     35  Hi 👋\\nsee you\\nReply STOP to opt out.",
    ]


def test_empty_table_has_headers() -> None:
    assert format_table([]).splitlines()[0].startswith("template  variant")


def test_the_command_shows_the_tracked_link_and_says_what_is_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "acme.toml"
    cfg.write_text('[business]\nname = "Acme Plumbing"\nbooking_link = "https://acme.example/b"\n')
    assert main(["templates", "preview", "-c", str(cfg)]) == 0
    out = capsys.readouterr().out
    busy = next(line for line in out.splitlines() if line.startswith("busy "))
    assert re.search(r"https://acme\.example/b\?tb=[0-9a-z]{6}-[a-z2-7]{8}\\nReply STOP", busy)
    chars = int(busy.split()[4])
    body = busy.split(None, 5)[5].replace("\\n", "\n")
    assert chars == len(body)
    assert "tracking token" in out
    assert "with the opt-out footer (later texts to the same number have none)." in out


def test_the_note_says_what_the_figures_include() -> None:
    plain = TemplatesSettings()
    assert "tracking token" not in note(plain, booking_link=False)
    assert "tracking token" in note(plain, booking_link=True)
    assert "with the opt-out footer" in note(plain, booking_link=False)
    provider = TemplatesSettings(provider_adds_footer=True)
    assert "not counted here" in note(provider, booking_link=True)
