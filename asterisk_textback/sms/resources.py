"""What an adapter's builder receives: the shared session, the environment, the AMI link."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from asterisk_textback.errors import ConfigError

if TYPE_CHECKING:  # types only: building a provider must not import what it does not use
    import aiohttp

    from asterisk_textback.ami.connection import AmiConnection

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Resources:
    """What adapters may share: the HTTP session, the environment, the AMI connection."""

    http: aiohttp.ClientSession
    environ: Mapping[str, str]
    ami: AmiConnection | None = None

    def secret(self, key: str, env_name: str | None) -> str:
        """The secret held in environment variable ``env_name`` (named by config ``key``)."""
        if not env_name:
            raise ConfigError(f"{key}: name the environment variable holding the secret")
        try:
            return self.environ[env_name]
        except KeyError:
            raise ConfigError(f"{key}: environment variable {env_name!r} is not set") from None


def section(value: _T | None, name: str) -> _T:
    """The ``[provider.<name>]`` section (the settings validator already refuses a gap)."""
    if value is None:
        raise ConfigError(f"provider.{name}: missing [provider.{name}]")
    return value
