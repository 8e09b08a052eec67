"""Typed, frozen settings loaded once from ``textback.toml`` (secrets from the environment).

Each section is defined in the ``settings.py`` of the package it configures (pure pydantic);
this module only combines them, checks what spans sections, and loads the file. Every
validation error names the offending key, e.g. ``pbx.port: Input should be a valid
integer`` or ``business.hours.mon[0]: "25:00-26:00" is not a time range``, with its line
when it is in the file (``acme.toml line 42: …``); an unknown key says which one was meant
(``unknown key 'web.dashbord': did you mean 'web.dashboard'?``). Sections: pbx, tracker,
business, rules, suppression, templates, provider, consent, forwarding, database, dispatch,
web, kpi, agi, bookings, crm, tenant, tenants, cluster.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from asterisk_textback.agi.settings import AgiSettings
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.bookings.settings import BookingWebhookSettings
from asterisk_textback.calls.settings import TrackerSettings
from asterisk_textback.crm.settings import CrmSettings
from asterisk_textback.errors import ConfigError
from asterisk_textback.inbound.settings import ConsentSettings, ForwardingSettings
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.outbox.settings import DispatchSettings
from asterisk_textback.policy.decide import refuse_destination
from asterisk_textback.policy.settings import (
    DEFAULT_RULES,
    BusinessSettings,
    RuleSettings,
    SuppressionSettings,
    check_rules,
)
from asterisk_textback.sms.settings import ProviderSettings
from asterisk_textback.store.settings import DatabaseSettings
from asterisk_textback.templates.settings import TemplatesSettings
from asterisk_textback.tenancy.settings import ClusterSettings, TenantSettings, TenantsSettings
from asterisk_textback.web.settings import WebSettings


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Settings(_Frozen):
    """The whole configuration."""

    pbx: PbxSettings = PbxSettings()
    #: More PBXes watched by the same service (``[[pbxes]]``), each with its own name.
    pbxes: tuple[PbxSettings, ...] = ()
    tracker: TrackerSettings = TrackerSettings()
    business: BusinessSettings = BusinessSettings()
    rules: tuple[RuleSettings, ...] = DEFAULT_RULES
    suppression: SuppressionSettings = SuppressionSettings()
    templates: TemplatesSettings = TemplatesSettings()
    provider: ProviderSettings = ProviderSettings()
    consent: ConsentSettings = ConsentSettings()
    forwarding: ForwardingSettings = ForwardingSettings()
    database: DatabaseSettings = DatabaseSettings()
    dispatch: DispatchSettings = DispatchSettings()
    web: WebSettings = WebSettings()
    kpi: KpiSettings = KpiSettings()
    agi: AgiSettings = AgiSettings()
    bookings: BookingWebhookSettings = BookingWebhookSettings()
    crm: CrmSettings = CrmSettings()
    #: In a tenant file: who the tenant is (its name, its DIDs on a shared PBX).
    tenant: TenantSettings = TenantSettings()
    #: Main config only: where the tenant files are.
    tenants: TenantsSettings = TenantsSettings()
    #: Main config only: several ``run`` instances sharing one PostgreSQL database.
    cluster: ClusterSettings = ClusterSettings()

    @field_validator("rules")
    @classmethod
    def _some_rules(cls, value: tuple[RuleSettings, ...]) -> tuple[RuleSettings, ...]:
        return check_rules(value)

    @model_validator(mode="after")
    def _distinct_pbx_names(self) -> Settings:
        names = [p.name for p in self.all_pbxes]
        for index, pbx in enumerate(self.pbxes):
            if names.count(pbx.name) > 1:
                raise ValueError(
                    f"pbxes[{index}].name: {pbx.name!r} is already used; every PBX needs its "
                    "own name (calls are tagged with it)"
                )
        return self

    @model_validator(mode="after")
    def _textable_staff_numbers(self) -> Settings:
        # A forward is a text like any other: the text-backs' destination checks apply.
        for index, number in enumerate(self.forwarding.sms_to):
            refused = refuse_destination(number, self)
            if refused is not None:
                raise ValueError(
                    f"forwarding.sms_to[{index}]: {number!r} may not be texted "
                    f"({refused[0]}: {refused[1]})"
                )
        return self

    @property
    def all_pbxes(self) -> tuple[PbxSettings, ...]:
        """``[pbx]`` first, then every ``[[pbxes]]``."""
        return (self.pbx, *self.pbxes)


def settings_from_mapping(data: Mapping[str, Any], lines: TomlLines | None = None) -> Settings:
    """Validate a parsed TOML mapping into :class:`Settings`, naming the key on error.

    With ``lines`` (the file's text), each problem also gives its line: ``acme.toml line 42:``.
    """
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(explain(exc, lines)) from None


def load_settings(path: str | os.PathLike[str] | None) -> Settings:
    """Load ``textback.toml`` (or the built-in defaults when ``path`` is None)."""
    if path is None:
        return Settings()
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return settings_from_mapping(data, TomlLines(raw.decode("utf-8"), str(p)))


# Explaining errors: the key's TOML line, "did you mean" for unknown keys, plain messages.

#: A part of a dotted TOML key: bare, or quoted.
_KEY_PART = re.compile(r"""\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:\.|$)""")
_HEADER = re.compile(r"^\[(\[)?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(r"""^((?:"[^"]*"|'[^']*'|[A-Za-z0-9_.\s-])+?)\s*=""")
_INLINE = re.compile(r"""[{,]\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")
#: A key at the start of a message: ``rules[2].template: …`` or ``unknown key 'web.x'``.
_LEADING_KEY = re.compile(r"^(?:unknown key ')?([A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*)(?=[:' ])")
_PYDANTIC_PREFIX = re.compile(r"^(?:Value error|Assertion failed), ")

Loc = tuple[str | int, ...]


def _parts(dotted: str) -> list[str] | None:
    parts = []
    at = 0
    while at < len(dotted):
        match = _KEY_PART.match(dotted, at)
        if match is None or match.end() == at:
            return None
        parts.append(match[1].strip("\"'"))
        at = match.end()
    return parts


class TomlLines:
    """Where each key of a TOML text is, by scanning it (``tomllib`` keeps no positions).

    Tables, arrays of tables (counted, so ``rules[2]`` is the third ``[[rules]]``), keys,
    dotted keys and the keys of one-line inline tables are found; a key that is not (a
    built-in default, a multi-line value) has no line, and the message goes without one.
    """

    def __init__(self, text: str, source: str) -> None:
        """Scan ``text``; ``source`` is the file name the messages show."""
        self.source = source
        self._lines: dict[Loc, int] = {}
        arrays: dict[Loc, int] = {}
        table: Loc = ()
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            header = _HEADER.match(line)
            if header:
                table = self._table(header[2], bool(header[1]), arrays, number)
                continue
            assign = _ASSIGN.match(line)
            parts = _parts(assign[1]) if assign else None
            if not assign or not parts:
                continue
            key = (*table, *parts)
            self._lines.setdefault(key, number)
            if line[assign.end() :].lstrip().startswith("{"):
                for inner in _INLINE.findall(line[assign.end() :]):
                    self._lines.setdefault((*key, inner.strip("\"'")), number)

    def _table(self, name: str, is_array: bool, arrays: dict[Loc, int], number: int) -> Loc:
        parts = _parts(name) or [name]
        path: Loc = ()
        for part in parts[:-1]:
            path = (*path, part)
            if path in arrays:
                path = (*path, arrays[path])
        path = (*path, parts[-1])
        if is_array:
            arrays[path] = arrays.get(path, -1) + 1
            path = (*path, arrays[path])
        self._lines.setdefault(path, number)
        return path

    def line(self, loc: Loc) -> int | None:
        """The line of ``loc``, else of the nearest enclosing key or table that has one."""
        for end in range(len(loc), 0, -1):
            found = self._lines.get(loc[:end])
            if found is not None:
                return found
        return None

    def where(self, key: str) -> str:
        """``acme.toml line 42: `` for a dotted key such as ``rules[2].template``; else ``""``."""
        loc = _loc(key)
        number = None if loc is None else self.line(loc)
        return "" if number is None else f"{self.source} line {number}: "


def _loc(key: str) -> Loc | None:
    loc: list[str | int] = []
    for part in key.split("."):
        name, _, rest = part.partition("[")
        if name:
            loc.append(name)
        for index in filter(None, rest.replace("]", "").split("[")) if rest else ():
            if not index.isdigit():
                return None
            loc.append(int(index))
    return tuple(loc)


def _dotted(loc: Loc) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def _models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _extra_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The model of a table's free-named entries (``[templates.<name>]``), if it types them."""
    try:
        extra = typing.get_type_hints(model).get("__pydantic_extra__")
    except (NameError, TypeError):
        return []
    return _models(extra)


def _keys_at(loc: Loc) -> list[str] | None:
    """The keys the table at ``loc`` may hold (None when it is not a settings model)."""
    model: type[BaseModel] = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        found = _models(field.annotation) if field else _extra_models(model)
        if len(found) != 1:
            return None
        model = found[0]
    return [field.alias or name for name, field in model.model_fields.items()]


def unknown_key(loc: Loc) -> str:
    """``unknown key 'web.dashbord': did you mean 'web.dashboard'?`` (or the keys allowed)."""
    key, parent, name = _dotted(loc), loc[:-1], str(loc[-1])
    allowed = _keys_at(parent)
    if allowed is None:
        return f"unknown key {key!r}"
    where = _dotted(parent)
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r}: did you mean {_dotted((*parent, close[0]))!r}?"
    table = f"[{where}]" if where else "the top level"
    return f"unknown key {key!r} (the keys of {table} are: {', '.join(sorted(allowed))})"


def _problem(loc: Loc, kind: str, message: str) -> tuple[str, str]:
    """``(key, text)`` of one validation problem, the text naming the key once."""
    if kind == "extra_forbidden" and loc:
        return _dotted(loc), unknown_key(loc)
    message = _PYDANTIC_PREFIX.sub("", message)
    key = _dotted(loc)
    leading = _LEADING_KEY.match(message)
    if leading and (not key or leading[1] == key or leading[1].startswith(key)):
        # The validator named the key itself (``pbxes[0].name: …``): do not say it twice.
        return leading[1], message
    return key, f"{key}: {message}" if key else message


def explain(exc: ValidationError, lines: TomlLines | None = None) -> str:
    """Every problem of ``exc`` in words, ``; ``-separated, each with its line when known."""
    texts = []
    for err in exc.errors():
        key, text = _problem(tuple(err["loc"]), err["type"], err["msg"])
        texts.append((lines.where(key) if lines else "") + text)
    return "; ".join(texts)


#: Where one problem ends and the next (``key: …``) begins in a joined message.
_NEXT_PROBLEM = re.compile(r"; (?=[A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*: )")


def with_lines(message: str, path: str | os.PathLike[str]) -> str:
    """``message`` (``key: …; key: …``) with the TOML line of each key in the file at ``path``.

    For the checks made after the models validate (templates compiled, rules' templates).
    """
    try:
        lines = TomlLines(Path(path).read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError):
        return message
    texts = []
    for text in _NEXT_PROBLEM.split(message):
        leading = _LEADING_KEY.match(text)
        texts.append((lines.where(leading[1]) if leading else "") + text)
    return "; ".join(texts)


def _format_error(exc: ValidationError) -> str:
    """:func:`explain` without lines (the name tests of the stages' own models use)."""
    return explain(exc)
