"""Data shipped with the package: real recorded AMI traces for ``replay`` and ``demo``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def builtin_traces() -> list[Path]:
    """The recorded Asterisk 22 traces shipped with the package, in a stable order."""
    folder = resources.files(__package__) / "traces"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".ami"))
