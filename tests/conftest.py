"""Shared fixtures: the real Asterisk traces and their manifest, and a fake clock."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asterisk_textback.logs.mask import MaskNumbers
from tests.fakeclock import FakeClock

TRACES = Path(__file__).parent / "fixtures" / "traces"


def manifest() -> dict[str, Any]:
    """``manifest.json`` of the recorded traces (what every call must be classified as)."""
    data: dict[str, Any] = json.loads((TRACES / "manifest.json").read_text())
    return data


def trace_names() -> list[str]:
    """Every recorded trace file listed in the manifest."""
    return sorted(manifest()["traces"])


@pytest.fixture
def traces_dir() -> Path:
    """Directory of the recorded AMI traces copied from shared/ami-traces."""
    return TRACES


@pytest.fixture
def fake_clock() -> FakeClock:
    """Virtual time: pass ``fake_clock.time`` and ``fake_clock.sleep`` to the code under test."""
    return FakeClock()


@pytest.fixture(autouse=True)
def _logs_unmasked_between_tests() -> Iterator[None]:
    """``main()`` masks numbers on the root handlers (pytest's too) and sets our loggers'
    level: undo it after each test, so one test's ``logsafe.setup`` never changes the log
    records another test reads."""
    yield
    logging.getLogger("asterisk_textback").setLevel(logging.NOTSET)
    for handler in logging.getLogger().handlers:
        for mask_filter in [f for f in handler.filters if isinstance(f, MaskNumbers)]:
            handler.removeFilter(mask_filter)


@pytest.fixture(autouse=True)
def _no_system_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``-c`` a command reads ``/etc/asterisk-textback/textback.toml`` when it exists:
    never in the tests, even on a machine with a real install (``$TEXTBACK_CONFIG`` names a
    file that does not exist unless a test names another)."""
    monkeypatch.setenv("TEXTBACK_CONFIG", "/nonexistent/asterisk-textback-tests/textback.toml")
