"""Fixtures for the AMI tests: a real loopback AmiServer and fast client settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.ami.sim.server import AmiServer

TRACES = Path(__file__).resolve().parent.parent / "fixtures" / "traces"


@pytest.fixture
async def ami_server() -> AsyncIterator[AmiServer]:
    """A started AmiServer on an ephemeral port with the account textback/secret."""
    async with AmiServer({"textback": "secret"}) as server:
        yield server


def fast_settings(server: AmiServer, **overrides: object) -> PbxSettings:
    """Client settings pointing at ``server`` with small timeouts so tests stay fast."""
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": "textback",
        "secret": "secret",
        "connect_timeout": 2.0,
        "ping_interval": 30.0,
        "ping_timeout": 1.0,
        "reconnect_min": 0.05,
        "reconnect_max": 0.4,
    }
    values.update(overrides)
    return PbxSettings.model_validate(values)
