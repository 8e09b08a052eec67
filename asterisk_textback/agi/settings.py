"""The ``[agi]`` section: where the FastAGI service listens and which scripts it answers.

::

    [agi]
    enabled = true
    host = "127.0.0.1"        # FastAGI has no authentication: keep it on loopback
    port = 4573
    scripts = ["textback"]    # AGI(agi://127.0.0.1:4573/textback?template=booking)
"""

from __future__ import annotations

import re
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["AgiSettings"]

_SCRIPT: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)*$")


class AgiSettings(BaseModel):
    """Where the FastAGI service listens, which script names it answers, and its limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Off by default: the dialplan only needs it for ``AGI(agi://…/textback?…)``.
    enabled: bool = False
    #: Anyone who can reach the port can queue texts, so it is loopback unless firewalled.
    host: str = Field(default="127.0.0.1", min_length=1)
    #: 4573 is Asterisk's FastAGI default; 0 picks a free port (tests).
    port: int = Field(default=4573, ge=0, le=65535)
    #: The script names (the URL's path, without ``?…``) this service answers.
    scripts: tuple[str, ...] = Field(default=("textback",), min_length=1)
    #: The largest ``delay=`` a dialplan may ask for.
    max_delay_seconds: float = Field(default=3600.0, ge=0, le=86_400)
    #: Limit on reading the AGI environment and on each reply to a command we send.
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("scripts")
    @classmethod
    def _script_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _SCRIPT.match(name):
                raise ValueError(
                    f"{name!r} is not a script name (letters, digits, '_', '-', '.', '/')"
                )
        return value
