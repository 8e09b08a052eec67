"""The ``[templates]`` section: defaults, overrides, and errors that name the key."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from asterisk_textback.config import Settings
from asterisk_textback.templates import (
    DEFAULT_TEMPLATES,
    TemplatesSettings,
    VariantSettings,
    count_segments,
    is_gsm7,
)
from asterisk_textback.templates.compose import SAMPLE_NUMBER, call_context, sample_call
from asterisk_textback.templates.render import validate

SEED_CASES = {"missed_voicemail", "missed_no_voicemail", "after_hours", "busy", "queue_abandon"}

TOML = """
[templates]
max_segments = 3
provider_adds_footer = false

[templates.busy]
experiment = "busy-hook-x-cta"

[[templates.busy.variants]]
name = "job-reply"
weight = 2
hook = "on_a_job"
cta = "reply"
body = "I'm on a job right now - reply to this text and tell me what you need."

[[templates.busy.variants]]
name = "sorry-book"
hook = "sorry"
cta = "book"
body = "Sorry, we just missed your call - book an appointment here: {{ booking_link }}"
"""


def _locs(exc: ValidationError) -> list[tuple[Any, ...]]:
    return [tuple(e["loc"]) for e in exc.errors()]


def test_defaults_cover_the_seed_cases(settings: TemplatesSettings) -> None:
    assert set(settings.templates) == SEED_CASES == set(DEFAULT_TEMPLATES)
    for spec in settings.templates.values():
        for variant in spec.variants:
            assert variant.cta in {"reply", "book"}
            assert is_gsm7(variant.body), variant.body


@pytest.mark.parametrize(
    ("business", "link", "caller"),
    [
        ("Acme Plumbing", "https://example.com/book", "Jordan Smith"),
        ("Acme Plumbing", "", ""),
        ("Acme Plumbing", "", "SMITH,JOHN"),
        (
            "Northside Heating & Air Conditioning Co",
            "https://book.northside.example/appointments",
            "Maximiliano Rodriguez",
        ),
    ],
)
def test_defaults_render_within_two_gsm7_segments_with_footer(
    settings: TemplatesSettings, business: str, link: str, caller: str
) -> None:
    # As sent: the booking link carries its tracking token.
    config = Settings.model_validate({"business": {"name": business, "booking_link": link or None}})
    call = replace(sample_call(), caller_name=caller)
    sample = call_context(call, config, to=SAMPLE_NUMBER)
    assert "?tb=" in sample.booking_link or not link
    renderer = validate(settings, sample)
    for name in SEED_CASES:
        text = renderer.render(name, sample, first_contact=True)
        assert text.body.endswith("\nReply STOP to opt out.")
        assert text.encoding == "GSM-7"
        assert text.segments <= 2, (name, text.body)
        assert count_segments(text.body) == text.info
        if link:
            assert link in text.body or "reply" in text.body.lower()
        assert "{" not in text.body


def test_toml_overrides_one_default_and_keeps_the_rest() -> None:
    settings = TemplatesSettings.model_validate(tomllib.loads(TOML)["templates"])
    assert set(settings.templates) == SEED_CASES
    busy = settings.template("busy")
    assert [v.name for v in busy.variants] == ["job-reply", "sorry-book"]
    assert busy.total_weight == 3
    assert settings.experiment_name("busy") == "busy-hook-x-cta"
    assert settings.experiment_name("after_hours") == "after_hours"
    assert settings.max_segments == 3
    validate(settings)


def test_include_defaults_false_keeps_only_the_files_templates() -> None:
    data = tomllib.loads(TOML)["templates"]
    settings = TemplatesSettings.model_validate({**data, "include_defaults": False})
    assert list(settings.templates) == ["busy"]


def test_no_templates_at_all_is_refused() -> None:
    with pytest.raises(ValidationError, match="no templates defined"):
        TemplatesSettings.model_validate({"include_defaults": False})


def test_errors_locate_the_key() -> None:
    bad = {
        "busy": {
            "variants": [
                {"name": "a", "body": "x"},
                {"name": "b", "body": "y", "weight": 0},
            ]
        }
    }
    with pytest.raises(ValidationError) as info:
        TemplatesSettings.model_validate(bad)
    assert _locs(info.value) == [("busy", "variants", 1, "weight")]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            {"max_segmnts": 3},
            "unknown key 'templates.max_segmnts': did you mean 'templates.max_segments'",
        ),
        ({"busy": "text"}, "unknown key 'templates.busy': a template is a table"),
        ({"Busy Case": {"variants": [{"name": "a", "body": "x"}]}}, "valid template name"),
        ({"t": {"variants": []}}, "at least 1 item"),
        ({"t": {"variants": [{"name": "a", "body": "x", "wieght": 2}]}}, "Extra inputs"),
        ({"t": {"variants": [{"name": "a", "body": "   "}]}}, "must not be blank"),
        ({"t": {"variants": [{"name": "a b", "body": "x"}]}}, "use letters"),
        ({"t": {"variants": [{"name": "a", "body": "x"}] * 2}}, "duplicate variant name"),
        ({"t": {"variants": [{"name": "a", "body": "x", "weight": "nan"}]}}, "finite"),
        ({"max_segments": 0}, "greater than or equal to 1"),
        ({"footer": ""}, "at least 1 character"),
    ],
)
def test_invalid_settings_are_refused(data: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        TemplatesSettings.model_validate(data)


def test_settings_are_frozen(settings: TemplatesSettings) -> None:
    with pytest.raises(ValidationError):
        settings.max_segments = 5
    with pytest.raises(TypeError):
        settings.templates["x"] = settings.template("busy")  # type: ignore[index]
    variant = VariantSettings(name="a", body="x")
    with pytest.raises(ValidationError):
        variant.weight = 2
