"""Every environment variable the configuration needs, checked at once instead of one by one.

The secrets are read where they are used (``database_url``, ``PbxSettings.resolved_secret``,
the provider builders, ``BookingSecrets``/``CrmSecrets``/``ForwardingSecrets.from_env``, the
CDR catch-up), each raising on the first unset one. :func:`missing_env` runs those same
readers against a :class:`_Collecting` view of the environment that records each name it
lacks and hands out a placeholder, so one pass finds them all: ``run`` refuses to start
naming every one, ``check`` prints them on one line and still runs the checks that do not
need them. Nothing here changes what the readers do with a real environment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic import BaseModel

from asterisk_textback.app.service import database_url
from asterisk_textback.bookings.webhook import BookingSecrets
from asterisk_textback.crm.hooks import CrmSecrets
from asterisk_textback.errors import ConfigError
from asterisk_textback.inbound.forwarding import ForwardingSecrets
from asterisk_textback.sms.registry import Resources, build_lookup, build_provider, build_webhooks
from asterisk_textback.textback.loading import PreparedConfig

__all__ = [
    "PLACEHOLDER",
    "MissingEnv",
    "missing_env",
    "missing_message",
    "require_env",
    "with_placeholders",
]

#: What a missing variable reads as while collecting (never used to log in anywhere).
PLACEHOLDER = "unset"
#: Where the systemd unit of contrib/ reads the variables from.
ENV_FILE = "/etc/asterisk-textback/env"


@dataclass(frozen=True, slots=True)
class MissingEnv:
    """One unset variable: the part that needs it, the setting(s) naming it, its name."""

    part: str
    keys: tuple[str, ...]
    name: str


class _Collecting(Mapping[str, str]):
    """``environ`` that records the names it lacks and answers :data:`PLACEHOLDER` for them.

    ``get`` records an empty value too: every reader that uses ``get`` treats "" as unset.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.missing: list[str] = []

    def _record(self, name: str) -> str:
        if name not in self.missing:
            self.missing.append(name)
        return PLACEHOLDER

    def __getitem__(self, name: str) -> str:
        try:
            return self._environ[name]
        except KeyError:
            return self._record(name)

    def get(self, name: str, default: Any = None) -> Any:
        """The value, or the placeholder (recorded) when unset or empty."""
        return self._environ.get(name) or self._record(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)


def _env_keys(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(variable name, setting key) for every ``*_env`` setting that names one."""
    for field, value in model:
        key = f"{prefix}{field}"
        if isinstance(value, BaseModel):
            yield from _env_keys(value, f"{key}.")
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _env_keys(item, f"{key}[{index}].")
        elif field.endswith("_env") and isinstance(value, str) and value:
            yield value, key


Reader = Callable[[Mapping[str, str]], object]


def _variable(name: str) -> Reader:
    return lambda env: env[name]


def _readers(loaded: PreparedConfig, http: aiohttp.ClientSession) -> Iterator[tuple[str, Reader]]:
    """(part, reader) in the order ``check`` reports the parts."""
    settings = loaded.settings
    yield "database", lambda env: database_url(loaded, env)
    many = len(settings.all_pbxes) > 1
    for pbx in settings.all_pbxes:
        yield (f"ami {pbx.name}" if many else "ami"), pbx.resolved_secret
        if pbx.cdr_db_url_env:
            yield "catch-up", _variable(pbx.cdr_db_url_env)

    def provider(env: Mapping[str, str]) -> None:
        res = Resources(http, env)
        build_provider(settings.provider, res)
        build_lookup(settings.provider, res)
        if settings.web.enabled:
            build_webhooks(settings.provider, res)

    yield "provider", provider
    yield "bookings", lambda env: BookingSecrets.from_env(settings.bookings, env)
    yield "crm", lambda env: CrmSecrets.from_env(settings.crm, env)
    if settings.web.enabled and settings.forwarding.enabled:  # replies arrive by webhook
        yield "forwarding", lambda env: ForwardingSecrets.from_env(settings.forwarding, env)


async def missing_env(loaded: PreparedConfig, environ: Mapping[str, str]) -> list[MissingEnv]:
    """Every variable the settings name that ``environ`` lacks, by the part needing it."""
    keys: dict[str, list[str]] = {}
    for name, key in _env_keys(loaded.settings):
        keys.setdefault(name, []).append(key)
    found: list[MissingEnv] = []
    async with aiohttp.ClientSession() as http:
        for part, reader in _readers(loaded, http):
            env = _Collecting(environ)
            # Anything else wrong (a key that is not a PEM…) is for the real reader to say.
            with contextlib.suppress(Exception):
                reader(env)
            found += [MissingEnv(part, tuple(keys.get(n, ())), n) for n in env.missing]
    return found


def names(missing: list[MissingEnv]) -> list[str]:
    """The distinct variable names, in the order found."""
    return list(dict.fromkeys(m.name for m in missing))


def missing_message(missing: list[MissingEnv]) -> tuple[str, str]:
    """(what is wrong, the fix) for the unset variables: one line each."""
    distinct = names(missing)
    verb = "is" if len(distinct) == 1 else "are"
    keys = list(dict.fromkeys(k for m in missing for k in m.keys))
    them = "it" if len(distinct) == 1 else "each"
    fix = (
        f"put {them} in {ENV_FILE} as NAME=value (the service's EnvironmentFile) and export "
        "it in the shell you run commands from"
    )
    if keys:
        fix += f"; named by {', '.join(keys)}"
    return f"{', '.join(distinct)} {verb} not set", fix


def with_placeholders(environ: Mapping[str, str], missing: list[MissingEnv]) -> dict[str, str]:
    """``environ`` plus :data:`PLACEHOLDER` for each missing name (``check`` skips their use)."""
    return {**environ, **dict.fromkeys(names(missing), PLACEHOLDER)}


async def require_env(loaded: PreparedConfig, environ: Mapping[str, str]) -> None:
    """Raise one :class:`ConfigError` naming every unset variable (``run``, before starting)."""
    missing = await missing_env(loaded, environ)
    if missing:
        detail, fix = missing_message(missing)
        raise ConfigError(f"environment: {detail}; fix: {fix}")
