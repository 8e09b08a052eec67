"""The base of every provider settings model: frozen, and unknown keys refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """A frozen settings model that refuses unknown keys (a typo must not pass silently)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
