"""``templates preview``: every template and variant, its encoding and segment count."""

from __future__ import annotations

import tomllib

from asterisk_textback.templates import TemplatesSettings, sample_context
from asterisk_textback.templates.preview import PreviewRow, format_table, preview_rows

TOML = """
[templates]
include_defaults = false

[[templates.hello.variants]]
name = "a"
body = "Hi {{ first_name }}!"

[[templates.hello.variants]]
name = "b"
body = "Hi 👋\\nsee you"
"""


def test_rows_cover_every_variant(settings: TemplatesSettings) -> None:
    rows = preview_rows(settings, sample_context())
    assert [(r.template, r.variant) for r in rows] == [
        (name, v.name) for name, spec in settings.templates.items() for v in spec.variants
    ]
    for row in rows:
        assert row.body.endswith(settings.footer)
        assert row.encoding == "GSM-7"
        assert 1 <= row.segments <= settings.max_segments
        assert row.chars == len(row.body)


def test_rows_and_table() -> None:
    settings = TemplatesSettings.model_validate(tomllib.loads(TOML)["templates"])
    rows = preview_rows(settings, sample_context())
    assert rows == [
        PreviewRow("hello", "a", "Hi Jordan! Reply STOP to opt out.", "GSM-7", 1, 33),
        PreviewRow("hello", "b", "Hi 👋\nsee you Reply STOP to opt out.", "UCS-2", 1, 35),
    ]
    table = format_table(rows)
    assert table.splitlines() == [
        "template  variant  encoding  segments  chars  body",
        "--------  -------  --------  --------  -----  ----",
        "hello     a        GSM-7            1     33  Hi Jordan! Reply STOP to opt out.",
        "hello     b        UCS-2            1     35  Hi 👋\\nsee you Reply STOP to opt out.",
    ]


def test_empty_table_has_headers() -> None:
    assert format_table([]).splitlines()[0].startswith("template  variant")
