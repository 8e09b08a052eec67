"""The opt-out footer goes, on its own line, on the first text to a number only, unless the
provider adds it."""

from __future__ import annotations

from collections.abc import Callable

from asterisk_textback.templates import (
    DEFAULT_FOOTER,
    MessageContext,
    TemplatesSettings,
    needs_footer,
    with_footer,
)
from asterisk_textback.templates.render import validate
from asterisk_textback.templates.segments import count_segments

MakeSettings = Callable[..., TemplatesSettings]


def test_default_footer_text() -> None:
    assert DEFAULT_FOOTER == "Reply STOP to opt out."
    assert TemplatesSettings().footer == DEFAULT_FOOTER


def test_footer_on_first_contact_only(settings: TemplatesSettings) -> None:
    assert with_footer("Hi", settings, first_contact=True) == "Hi\nReply STOP to opt out."
    assert with_footer("Hi", settings, first_contact=False) == "Hi"


def test_footer_is_not_glued_to_a_sign_off(settings: TemplatesSettings) -> None:
    body = "We'll call you back ASAP. - Acme Plumbing"
    text = with_footer(body, settings, first_contact=True)
    assert text.splitlines() == [body, "Reply STOP to opt out."]


def test_the_line_break_costs_one_gsm7_septet_like_the_old_space(
    settings: TemplatesSettings,
) -> None:
    body = "x" * (160 - 1 - len(DEFAULT_FOOTER))  # exactly fills one part with the footer
    text = with_footer(body, settings, first_contact=True)
    info = count_segments(text)
    assert (info.encoding, info.units, info.segments) == ("GSM-7", 160, 1)
    assert count_segments(text + "x").segments == 2
    glued = count_segments(f"{body} {DEFAULT_FOOTER}")
    assert (glued.units, glued.segments) == (info.units, info.segments)


def test_blanks_around_a_configured_footer_are_dropped() -> None:
    # An old file's " Reply STOP…" (the space was the separator) still reads right.
    settings = TemplatesSettings(footer="  Reply STOP to end.  ")
    assert settings.footer == "Reply STOP to end."
    assert with_footer("Hi", settings, first_contact=True) == "Hi\nReply STOP to end."


def test_no_footer_when_the_provider_adds_it() -> None:
    settings = TemplatesSettings(provider_adds_footer=True)
    assert not needs_footer(settings, first_contact=True)
    assert with_footer("Hi", settings, first_contact=True) == "Hi"


def test_rendered_text_records_the_footer(
    make_settings: MakeSettings, sample: MessageContext
) -> None:
    renderer = validate(make_settings("Hi {{ first_name }}.", footer="STOP=stop"))
    first = renderer.render("t", sample, first_contact=True)
    later = renderer.render("t", sample, first_contact=False)
    assert (first.body, first.footer) == ("Hi Jordan.\nSTOP=stop", True)
    assert (later.body, later.footer) == ("Hi Jordan.", False)
    assert first.info.length == later.info.length + len("\nSTOP=stop")


def test_footer_is_plain_text_not_a_template(
    make_settings: MakeSettings, sample: MessageContext
) -> None:
    renderer = validate(make_settings("Hi.", footer="{{ 7*7 }}"))
    assert renderer.render("t", sample, first_contact=True).body == "Hi.\n{{ 7*7 }}"


def test_provider_footer_flag_reaches_render(
    make_settings: MakeSettings, sample: MessageContext
) -> None:
    renderer = validate(make_settings("Hi.", provider_adds_footer=True))
    text = renderer.render("t", sample, first_contact=True)
    assert (text.body, text.footer) == ("Hi.", False)
