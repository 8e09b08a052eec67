"""The opt-out footer goes on the first text to a number only, unless the provider adds it."""

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

MakeSettings = Callable[..., TemplatesSettings]


def test_default_footer_text() -> None:
    assert DEFAULT_FOOTER == " Reply STOP to opt out."
    assert TemplatesSettings().footer == DEFAULT_FOOTER


def test_footer_on_first_contact_only(settings: TemplatesSettings) -> None:
    assert with_footer("Hi", settings, first_contact=True) == "Hi Reply STOP to opt out."
    assert with_footer("Hi", settings, first_contact=False) == "Hi"


def test_no_footer_when_the_provider_adds_it() -> None:
    settings = TemplatesSettings(provider_adds_footer=True)
    assert not needs_footer(settings, first_contact=True)
    assert with_footer("Hi", settings, first_contact=True) == "Hi"


def test_rendered_text_records_the_footer(
    make_settings: MakeSettings, sample: MessageContext
) -> None:
    renderer = validate(make_settings("Hi {{ first_name }}.", footer=" STOP=stop"))
    first = renderer.render("t", sample, first_contact=True)
    later = renderer.render("t", sample, first_contact=False)
    assert (first.body, first.footer) == ("Hi Jordan. STOP=stop", True)
    assert (later.body, later.footer) == ("Hi Jordan.", False)
    assert first.info.length == later.info.length + len(" STOP=stop")


def test_footer_is_plain_text_not_a_template(
    make_settings: MakeSettings, sample: MessageContext
) -> None:
    renderer = validate(make_settings("Hi.", footer=" {{ 7*7 }}"))
    assert renderer.render("t", sample, first_contact=True).body == "Hi. {{ 7*7 }}"


def test_provider_footer_flag_reaches_render(
    make_settings: MakeSettings, sample: MessageContext
) -> None:
    renderer = validate(make_settings("Hi.", provider_adds_footer=True))
    text = renderer.render("t", sample, first_contact=True)
    assert (text.body, text.footer) == ("Hi.", False)
