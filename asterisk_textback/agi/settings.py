"""The FastAGI contract without the network: the ``[agi]`` settings and the request parser.

::

    [agi]
    enabled = true
    host = "127.0.0.1"        # FastAGI has no authentication: keep it on loopback
    port = 4573
    scripts = ["textback"]    # AGI(agi://127.0.0.1:4573/textback?template=booking)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["AgiSettings", "TextRequest", "parse_request"]

_SCRIPT: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)*$")
_PARAMS: Final = frozenset({"template", "to", "delay", "did"})
_MAX_UNIQUEID: Final = 150
# AST_PRES_RESTRICTION: the bits of agi_callingpres that say "do not show this number".
_PRES_RESTRICTION: Final = 0x60
_NO_VALUE: Final = frozenset({"", "unknown"})


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


@dataclass(frozen=True, slots=True)
class TextRequest:
    """One dialplan request for a text, parsed from the AGI environment."""

    script: str
    template: str
    uniqueid: str
    channel: str
    #: The number to text as given (``to=`` or the caller ID); "" when it is withheld.
    to: str
    caller_name: str
    did: str
    delay: float


def _query(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in query.split("&") if query else ():
        name, sep, value = part.partition("=")
        if not sep or name not in _PARAMS:
            raise ValueError(f"unknown parameter {part[:40]!r} (use {', '.join(sorted(_PARAMS))})")
        if name in params:
            raise ValueError(f"parameter {name!r} given twice")
        # unquote, not unquote_plus: Asterisk does not encode, so "+44…" must stay a "+".
        params[name] = unquote(value).strip()
    return params


def _delay(raw: str | None, limit: float) -> float:
    if raw is None or raw == "":
        return 0.0
    try:
        delay = float(raw)
    except ValueError:
        raise ValueError(f"delay={raw[:20]!r} is not a number of seconds") from None
    if not math.isfinite(delay) or not 0 <= delay <= limit:
        raise ValueError(
            f"delay={raw[:20]!r} is not between 0 and {limit:g} (agi.max_delay_seconds)"
        )
    return delay


def _restricted(env: Mapping[str, str]) -> bool:
    try:
        return int(env.get("agi_callingpres", "0")) & _PRES_RESTRICTION != 0
    except ValueError:
        return False


def parse_request(env: Mapping[str, str], settings: AgiSettings) -> TextRequest:
    """The request an AGI environment makes; ValueError naming what is wrong with it."""
    script = env.get("agi_network_script")
    if not script:
        raise ValueError("no agi_network_script: not a FastAGI request to a script")
    path, _, query = script.partition("?")
    path = path.strip("/")
    if path not in settings.scripts:
        raise ValueError(f"script {path[:40]!r} is not one of agi.scripts")
    params = _query(query)
    template = params.get("template", "")
    if not template:
        raise ValueError("no template= in the AGI URL")
    uniqueid = env.get("agi_uniqueid", "")
    if not uniqueid or len(uniqueid) > _MAX_UNIQUEID:
        raise ValueError(f"agi_uniqueid {uniqueid[:40]!r} is missing or too long")
    # A withheld caller ID is not texted, even though Asterisk still knows the number.
    caller = "" if _restricted(env) else env.get("agi_callerid", "")
    to = params.get("to", caller)
    dnid = env.get("agi_dnid", "")
    return TextRequest(
        script=path,
        template=template,
        uniqueid=uniqueid,
        channel=env.get("agi_channel", ""),
        to="" if to.lower() in _NO_VALUE else to,
        caller_name=env.get("agi_calleridname", ""),
        did=params.get("did") or ("" if dnid.lower() in _NO_VALUE else dnid),
        delay=_delay(params.get("delay"), settings.max_delay_seconds),
    )
