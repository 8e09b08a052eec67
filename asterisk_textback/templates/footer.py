"""The opt-out footer: appended to the first text a number receives, once."""

from __future__ import annotations

from asterisk_textback.templates.settings import TemplatesSettings


def needs_footer(settings: TemplatesSettings, *, first_contact: bool) -> bool:
    """True when we must add the footer: first contact, and the provider does not add it."""
    return first_contact and not settings.provider_adds_footer


def with_footer(body: str, settings: TemplatesSettings, *, first_contact: bool) -> str:
    """``body`` plus the opt-out footer when :func:`needs_footer` says so."""
    if not needs_footer(settings, first_contact=first_contact):
        return body
    return body + settings.footer
