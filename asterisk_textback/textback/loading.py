"""Load the configuration once and check everything that can be checked before a call."""

from __future__ import annotations

import os
from dataclasses import dataclass

from asterisk_textback.config import Settings, load_settings, with_lines
from asterisk_textback.errors import ConfigError
from asterisk_textback.kpi.conversions import tracked_link
from asterisk_textback.policy.settings import check_templates
from asterisk_textback.templates.context import sample_context
from asterisk_textback.templates.render import Renderer, validate


@dataclass(frozen=True, slots=True)
class PreparedConfig:
    """Validated settings plus the compiled templates they name."""

    settings: Settings
    renderer: Renderer


def prepare(settings: Settings) -> PreparedConfig:
    """Compile and trial-render every template, and check every rule names one that exists.

    Rendering errors and over-long texts surface here, at start-up, naming the key.
    """
    business = settings.business
    link = business.booking_link or ""
    if link:
        # Real links carry a tracking token: validate the segment count with one.
        link = tracked_link(link, pbx="pbx", linkedid="0.0", ended_at=2.0**31, secret="")
    sample = sample_context(business_name=business.name, booking_link=link, tz=business.zone)
    renderer = validate(settings.templates, sample)
    check_templates(settings, renderer)
    return PreparedConfig(settings, renderer)


def load(path: str | os.PathLike[str] | None) -> PreparedConfig:
    """``load_settings`` + :func:`prepare`: the one way commands read ``textback.toml``.

    A problem found once the file has validated (a template that does not compile, a rule
    naming no template) is reported with its line in the file, as the models' own are.
    """
    settings = load_settings(path)
    try:
        return prepare(settings)
    except ConfigError as exc:
        if path is None:
            raise
        raise ConfigError(with_lines(str(exc), path)) from None
