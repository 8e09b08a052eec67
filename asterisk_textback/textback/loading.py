"""Load the configuration once and check everything that can be checked before a call."""

from __future__ import annotations

import os
from dataclasses import dataclass

from asterisk_textback.config import Settings, load_settings, with_lines
from asterisk_textback.errors import ConfigError
from asterisk_textback.policy.settings import check_templates
from asterisk_textback.templates.compose import SAMPLE_NUMBER, call_context, sample_call
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
    # The sample as the send path builds it: the booking link carries a real-length token.
    sample = call_context(sample_call(), settings, to=SAMPLE_NUMBER)
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
