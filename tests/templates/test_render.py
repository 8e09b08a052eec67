"""Sandboxed rendering: data is never evaluated, escapes and typos fail at config load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from asterisk_textback.errors import ConfigError
from asterisk_textback.templates import MessageContext, TemplatesSettings, sample_context
from asterisk_textback.templates.render import VARIABLES, Renderer, validate

MakeSettings = Callable[..., TemplatesSettings]
KEY = "templates.t.variants[1].body"

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ namespace.__init__ }}",
    "{{ caller_name['__class__'] }}",
    "{{ caller_name|attr('__class__') }}",
    "{% set a = '_' ~ '_class__' %}{{ caller_name[a] }}",
    "{{ '{0.__class__}'.format(caller_name) }}",
    "{{ call_time.__class__ }}",
    "{{ config }}",
    "{{ self }}",
    "{{ self.__init__.__globals__ }}",
    "{% include 'x' %}",
    "{% extends 'x' %}",
    "{% from 'x' import y %}",
    "{{ range(10) }}",
    "{{ 'a' * 100000000 }}",
    "{{ 9 ** 99999999 }}",
]


@pytest.mark.parametrize("body", ESCAPES)
def test_escape_attempts_fail_at_validation(make_settings: MakeSettings, body: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(make_settings("fine", body))
    message = str(info.value)
    assert message.startswith(f"{KEY}: ")
    assert any(w in message for w in ("unsafe", "undefined variable", "not allowed")), message


def test_private_attribute_in_untaken_branch_is_refused(make_settings: MakeSettings) -> None:
    body = "{% if outcome == 'never' %}{{ ''.__class__ }}{% endif %}ok"
    with pytest.raises(ConfigError, match=r"private attribute '__class__' is refused"):
        Renderer(make_settings(body))


def test_undefined_variable_names_the_key(make_settings: MakeSettings) -> None:
    with pytest.raises(ConfigError) as info:
        validate(make_settings("ok", "Book: {{ bookng_link }}"))
    assert str(info.value) == (
        f"{KEY}: undefined variable 'bookng_link' (did you mean 'booking_link'?)"
    )


def test_undefined_variable_in_untaken_branch_is_caught(make_settings: MakeSettings) -> None:
    body = "{% if booking_link %}ok{% else %}{{ phone_numbr }}{% endif %}"
    with pytest.raises(ConfigError, match=r"undefined variable 'phone_numbr'"):
        validate(make_settings(body))


def test_missing_attribute_is_a_strict_undefined_error(make_settings: MakeSettings) -> None:
    with pytest.raises(ConfigError, match=r"^templates\.t\.variants\[0\]\.body: undefined"):
        validate(make_settings("{{ caller_name.nickname }}"))


def test_template_relying_on_a_caller_name_fails_without_one(
    make_settings: MakeSettings,
) -> None:
    with pytest.raises(ConfigError, match=r"variants\[0\]\.body: undefined"):
        validate(make_settings("Hi {{ caller_name[0] }}"))


def test_syntax_error_names_the_key(make_settings: MakeSettings) -> None:
    with pytest.raises(ConfigError, match=r"^templates\.t\.variants\[0\]\.body: syntax error"):
        validate(make_settings("Hi {{ first_name }"))


def test_every_broken_variant_is_reported(make_settings: MakeSettings) -> None:
    with pytest.raises(ConfigError) as info:
        validate(make_settings("{{ a }}", "fine", "{% if %}"))
    message = str(info.value)
    assert "variants[0].body: undefined variable 'a'" in message
    assert "variants[2].body: syntax error" in message
    assert "variants[1]" not in message


def test_over_long_text_is_refused_with_its_segment_count(make_settings: MakeSettings) -> None:
    body = "x" * 460  # 4 GSM-7 parts before the footer
    with pytest.raises(ConfigError) as info:
        validate(make_settings("ok", body, max_segments=3))
    assert str(info.value) == (
        f"{KEY}: renders to 4 segments (max 3): GSM-7, 483 septets with the opt-out footer"
    )


def test_footer_tips_the_count_at_validation(make_settings: MakeSettings) -> None:
    body = "x" * 150  # 1 part alone, 2 with the footer
    with pytest.raises(ConfigError, match=r"renders to 2 segments \(max 1\): GSM-7, 173 septets"):
        validate(make_settings(body, max_segments=1))
    validate(make_settings(body, max_segments=1, provider_adds_footer=True))


def test_empty_render_is_refused(make_settings: MakeSettings) -> None:
    with pytest.raises(ConfigError, match=r"variants\[0\]\.body: renders to an empty text"):
        validate(make_settings("{% if false %}x{% endif %}  "))


@pytest.mark.parametrize("name", ["{{7*7}}", "{% raw %}x", "{{ caller_name }}", "{#", "}}{{"])
def test_cnam_with_jinja_syntax_is_rendered_literally(
    make_settings: MakeSettings, sample: MessageContext, name: str
) -> None:
    renderer = validate(make_settings("Hi {{ caller_name }}, {{ first_name or 'there' }}!"))
    ctx = replace(sample, caller_name=f"Bob {name}")
    text = renderer.render("t", ctx, first_contact=False)
    assert text.body == f"Hi Bob {name}, Bob!"


def test_other_fields_are_not_evaluated_either(
    make_settings: MakeSettings, sample: MessageContext
) -> None:
    renderer = validate(make_settings("{{ business_name }} {{ booking_link }} {{ did }}"))
    ctx = replace(sample, business_name="{{7*7}}", booking_link="{% x %}", did="{{did}}")
    assert renderer.render("t", ctx, first_contact=False).body == "{{7*7}} {% x %} {{did}}"


def test_every_documented_variable_renders(
    make_settings: MakeSettings, sample: MessageContext
) -> None:
    assert sorted(VARIABLES) == [
        "booking_link",
        "business_name",
        "call_clock",
        "call_day",
        "call_time",
        "caller_name",
        "caller_number",
        "did",
        "first_name",
        "outcome",
        "reason",
    ]
    body = " | ".join(f"{{{{ {name} }}}}" for name in sorted(VARIABLES))
    text = validate(make_settings(body)).render("t", sample, first_contact=False)
    assert text.body == (
        "https://example.com/book | Acme Plumbing | 6:05 PM | Monday | 2024-06-03 18:05:00+00:00"
        " | Jordan Smith | +12025550143 | +12025550100 | Jordan | missed_no_voicemail | no_answer"
    )


def test_call_time_methods_and_first_name_filter(make_settings: MakeSettings) -> None:
    body = "{{ call_time.strftime('%H:%M') }} {{ 'SMITH,JOHN' | first_name }}"
    text = validate(make_settings(body)).render("t", sample_context(), first_contact=False)
    assert text.body == "18:05 John"


def test_whitespace_left_by_tags_is_tidied(
    make_settings: MakeSettings, sample: MessageContext
) -> None:
    body = "\n  Hi {% if first_name %}{{ first_name }}{% endif %}  there,\n\n\n\nbye  \n"
    renderer = validate(make_settings(body))
    assert renderer.render("t", sample, first_contact=False).body == "Hi Jordan there,\n\nbye"


def test_smart_encoding_keeps_typographic_templates_gsm7(
    make_settings: MakeSettings, sample: MessageContext
) -> None:
    body = "We’re closed — back soon"
    on = validate(make_settings(body)).render("t", sample, first_contact=False)
    assert (on.body, on.encoding) == ("We're closed - back soon", "GSM-7")
    off = validate(make_settings(body, smart_encoding=False))
    assert off.render("t", sample, first_contact=False).encoding == "UCS-2"


def test_emoji_in_caller_name_is_counted(
    make_settings: MakeSettings, sample: MessageContext
) -> None:
    renderer = validate(make_settings("Hi {{ caller_name }}"))
    text = renderer.render("t", replace(sample, caller_name="Ana 🌻"), first_contact=False)
    assert (text.encoding, text.info.units, text.segments) == ("UCS-2", 9, 1)


def test_unknown_template_or_variant(renderer: Renderer, sample: MessageContext) -> None:
    assert "busy" in renderer
    assert "nope" not in renderer
    with pytest.raises(ConfigError, match=r"^templates\.nope: no such template"):
        renderer.render("nope", sample, first_contact=True)
    with pytest.raises(ConfigError, match=r"no variant named 'zzz'"):
        renderer.render("busy", sample, first_contact=True, variant="zzz")


def test_runtime_render_error_names_the_key(
    make_settings: MakeSettings, sample: MessageContext
) -> None:
    # Valid for the sample (a name), broken for a caller without one.
    renderer = Renderer(make_settings("{{ caller_name[0] }}"))
    assert renderer.render("t", sample, first_contact=False).body == "J"
    with pytest.raises(ConfigError, match=r"^templates\.t\.variants\[0\]\.body: undefined"):
        renderer.render("t", replace(sample, caller_name=""), first_contact=False)


def test_renderer_keeps_its_settings() -> None:
    settings = TemplatesSettings()
    renderer = Renderer(settings)
    assert renderer.settings is settings
    assert renderer.names() == tuple(settings.templates)


def test_modest_arithmetic_still_works(make_settings: MakeSettings, sample: MessageContext) -> None:
    renderer = validate(make_settings("{{ '-' * 3 }} {{ 2 ** 3 }} {{ 3 * 'ab' }} {{ 6 * 7 }}"))
    assert renderer.render("t", sample, first_contact=False).body == "--- 8 ababab 42"


def test_runtime_exception_is_reported_not_leaked(make_settings: MakeSettings) -> None:
    with pytest.raises(ConfigError, match=r"cannot render: ZeroDivisionError"):
        validate(make_settings("{{ (outcome | length) // 0 }}"))


def test_absurdly_long_render_is_refused(make_settings: MakeSettings) -> None:
    with pytest.raises(ConfigError, match=r"renders to 2000 characters \(max 1600\)"):
        validate(make_settings("{{ 'x' * 1000 }}{{ 'y' * 1000 }}", max_segments=10))
