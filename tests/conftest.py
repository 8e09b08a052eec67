"""Shared fixtures: the real Asterisk traces and their manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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
