"""The opt-out footer: appended to the first text a number receives, once, on its own line.

A line break (one GSM-7 septet, like the space it replaced) keeps the footer from reading as
part of the sign-off: "… ASAP. - Acme Plumbing" then "Reply STOP to opt out." below it.
"""

from __future__ import annotations

from typing import Final

from asterisk_textback.templates.settings import TemplatesSettings

#: Between a text and its footer.
FOOTER_SEPARATOR: Final = "\n"


def needs_footer(settings: TemplatesSettings, *, first_contact: bool) -> bool:
    """True when we must add the footer: first contact, and the provider does not add it."""
    return first_contact and not settings.provider_adds_footer


def with_footer(body: str, settings: TemplatesSettings, *, first_contact: bool) -> str:
    """``body`` plus, on a line of its own, the opt-out footer when :func:`needs_footer` says so."""
    if not needs_footer(settings, first_contact=first_contact):
        return body
    return f"{body}{FOOTER_SEPARATOR}{settings.footer}"
