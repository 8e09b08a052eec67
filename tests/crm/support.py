"""Builders shared by the CRM tests."""

from __future__ import annotations

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.crm.hooks import CrmDispatcher, CrmHooks, CrmSecrets
from asterisk_textback.crm.settings import CrmEndpoint, CrmEventType, CrmSettings

START = 1_794_000_000.0
KEY = b"crm-secret"


class Clock:
    """A settable clock."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def settings(*endpoints: tuple[str, str, tuple[CrmEventType, ...]], **more: object) -> CrmSettings:
    """Settings with (name, url, events) endpoints, each keyed by ``CRM_<NAME>``."""
    return CrmSettings.model_validate(
        {
            "endpoints": [
                CrmEndpoint(name=name, url=url, events=events, secret_env=f"CRM_{name.upper()}")
                for name, url, events in endpoints
            ],
            "retry_min_seconds": 10,
            **more,
        }
    )


def build(
    config: CrmSettings,
    sessions: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    clock: Clock,
) -> tuple[CrmHooks, CrmDispatcher]:
    """Hooks and a dispatcher sharing one database and clock."""
    secrets = CrmSecrets.from_env(config, {e.secret_env: KEY.decode() for e in config.endpoints})
    hooks = CrmHooks(config, sessions, clock=clock)
    return hooks, CrmDispatcher(config, secrets, sessions, http, clock=clock)
