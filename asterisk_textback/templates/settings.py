"""Typed, frozen settings for the ``[templates]`` section of ``textback.toml``.

Each template is a table directly under ``[templates]``, next to the section's own options::

    [templates]
    max_segments = 2

    [[templates.missed_voicemail.variants]]
    name = "sorry-reply"
    weight = 1
    hook = "sorry"
    cta = "reply"
    body = "Hi {{ first_name or 'there' }}, sorry we missed your call. Reply to this text."

Templates given in the file replace the built-in default of the same name; the other
defaults stay available unless ``include_defaults = false``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from asterisk_textback.templates.defaults import DEFAULT_FOOTER, DEFAULT_TEMPLATES

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_OPTIONS = frozenset(
    {"max_segments", "footer", "provider_adds_footer", "smart_encoding", "include_defaults"}
)


class VariantSettings(BaseModel):
    """One wording of a template, drawn for a share of callers proportional to its weight."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    #: Jinja2 source; compiled once at config load in a sandbox (see ``render.py``).
    body: str = Field(min_length=1, max_length=2000)
    #: Label of the opening line, for hook x CTA experiments (e.g. ``"on_a_job"``).
    hook: str | None = None
    #: Label of the call to action, for hook x CTA experiments (e.g. ``"reply"``, ``"book"``).
    cta: str | None = None

    @field_validator("name")
    @classmethod
    def _variant_name(cls, value: str) -> str:
        if not _VARIANT_NAME.match(value):
            raise ValueError("use letters, digits, '_', '-' or '.'")
        return value

    @field_validator("body")
    @classmethod
    def _body_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class TemplateSettings(BaseModel):
    """A named text with one or more variants; variant choice is stable per caller."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    variants: tuple[VariantSettings, ...] = Field(min_length=1)
    #: Name hashed with the caller's number to pick a variant; defaults to the template's
    #: name. Renaming it reshuffles who gets which variant (start a new experiment).
    experiment: str | None = Field(default=None, min_length=1)
    description: str = ""

    @field_validator("variants")
    @classmethod
    def _unique_names(cls, value: tuple[VariantSettings, ...]) -> tuple[VariantSettings, ...]:
        seen: set[str] = set()
        for variant in value:
            if variant.name in seen:
                raise ValueError(f"duplicate variant name {variant.name!r}")
            seen.add(variant.name)
        return value

    @property
    def total_weight(self) -> float:
        """Sum of the variants' weights."""
        return sum(v.weight for v in self.variants)


class TemplatesSettings(BaseModel):
    """The ``[templates]`` section: the templates plus segment limit and opt-out footer."""

    # Template names are keys of this very table (``templates.missed_voicemail``), so unknown
    # keys are allowed but typed: each must validate as a TemplateSettings table. A mistyped
    # option (``max_segment = 3``) is therefore still refused, with its key named.
    model_config = ConfigDict(frozen=True, extra="allow")
    __pydantic_extra__: dict[str, TemplateSettings] = Field(init=False)

    #: Texts that render (with sample data) to more parts than this fail at config load.
    max_segments: int = Field(default=2, ge=1, le=10)
    #: Added on its own line to the first text a number receives, unless the provider adds
    #: its own; surrounding blanks are dropped (the line break separates it).
    footer: str = Field(default=DEFAULT_FOOTER, min_length=1, max_length=160)
    provider_adds_footer: bool = False
    #: Replace typographic quotes and dashes with GSM-7 look-alikes (keeps texts GSM-7).
    smart_encoding: bool = True
    #: Keep the built-in templates (missed_voicemail, busy, ...) next to the file's own.
    include_defaults: bool = True

    @field_validator("footer")
    @classmethod
    def _footer_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        for key, value in data.items():
            if key in _OPTIONS:
                continue
            if not _NAME.match(key):
                raise ValueError(
                    f"{key!r} is neither an option ({', '.join(sorted(_OPTIONS))}) nor a "
                    "valid template name (lowercase letters, digits and '_')"
                )
            if not isinstance(value, Mapping | TemplateSettings):
                close = difflib.get_close_matches(key, sorted(_OPTIONS), n=1)
                hint = f"did you mean 'templates.{close[0]}'?" if close else "a template is a table"
                options = ", ".join(sorted(_OPTIONS))
                raise ValueError(f"unknown key 'templates.{key}': {hint} (options: {options})")
        if data.get("include_defaults", True) is not False:
            return {**DEFAULT_TEMPLATES, **data}
        return data

    @model_validator(mode="after")
    def _at_least_one(self) -> TemplatesSettings:
        if not self.__pydantic_extra__:
            raise ValueError("no templates defined (and include_defaults = false)")
        return self

    @property
    def templates(self) -> Mapping[str, TemplateSettings]:
        """The templates by name, defaults first then the file's own, read-only."""
        return MappingProxyType(self.__pydantic_extra__)

    def template(self, name: str) -> TemplateSettings:
        """The template called ``name``; KeyError when there is none."""
        return self.__pydantic_extra__[name]

    def experiment_name(self, name: str) -> str:
        """The experiment key used to assign variants of template ``name``."""
        return self.template(name).experiment or name


def experiment_labels(
    templates: TemplatesSettings,
) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """(experiment, variant) -> (hook, cta), for the dashboard's 2x2 view."""
    return {
        (templates.experiment_name(name), variant.name): (variant.hook, variant.cta)
        for name, spec in templates.templates.items()
        for variant in spec.variants
    }
