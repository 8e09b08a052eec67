"""Load the configuration once and check everything that can be checked before a call."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from asterisk_textback.compliance.carrier_rules import load_error, review
from asterisk_textback.config import Settings, load_settings, with_lines
from asterisk_textback.errors import ConfigError
from asterisk_textback.policy.settings import check_templates
from asterisk_textback.templates.compose import SAMPLE_NUMBER, call_context, sample_call
from asterisk_textback.templates.render import Renderer, validate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PreparedConfig:
    """Validated settings plus the compiled templates they name."""

    settings: Settings
    renderer: Renderer


def prepare(settings: Settings, *, carrier_rules: bool = True) -> PreparedConfig:
    """Compile and trial-render every template, and check every rule names one that exists.

    Rendering errors and over-long texts surface here, at start-up, naming the key. So does
    a HELP answer or STOP confirmation carriers would refuse (CTIA Messaging Principles and
    Best Practices; 47 CFR 64.1200(a)(12); see ``compliance.carrier_rules``) when
    ``consent.carrier_rules = "enforce"``: ``run`` (and a reload) stops with what is
    missing and the compliant wording. The built-in answers always pass. ``carrier_rules``
    False leaves them to the caller (``check`` reports each miss on its own line).
    """
    # The sample as the send path builds it: the booking link carries a real-length token.
    sample = call_context(sample_call(), settings, to=SAMPLE_NUMBER)
    renderer = validate(settings.templates, sample)
    check_templates(settings, renderer)
    mode = settings.consent.carrier_rules
    if carrier_rules and mode != "off":
        misses = review(settings)
        if misses and mode == "enforce":
            raise ConfigError(load_error(misses))
        for miss in misses:
            log.warning('consent.carrier_rules = "warn": %s (%s)', miss.message, miss.key)
    return PreparedConfig(settings, renderer)


def load(path: str | os.PathLike[str] | None, *, carrier_rules: bool = True) -> PreparedConfig:
    """``load_settings`` + :func:`prepare`: the one way commands read ``textback.toml``.

    A problem found once the file has validated (a template that does not compile, a rule
    naming no template, a HELP answer carriers refuse) is reported with its line in the
    file, as the models' own are.
    """
    settings = load_settings(path)
    try:
        return prepare(settings, carrier_rules=carrier_rules)
    except ConfigError as exc:
        if path is None:
            raise
        raise ConfigError(with_lines(str(exc), path)) from None
