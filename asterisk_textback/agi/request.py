"""The FastAGI request without the network: what the dialplan asked for, parsed and checked.

``parse_request`` turns the AGI environment (``agi_network_script``, ``agi_callerid`` ...)
into a :class:`TextRequest`, refusing what the ``[agi]`` settings do not allow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from asterisk_textback.agi.settings import AgiSettings

__all__ = ["TextRequest", "parse_request"]

_PARAMS: Final = frozenset({"template", "to", "delay", "did"})
_MAX_UNIQUEID: Final = 150
# AST_PRES_RESTRICTION: the bits of agi_callingpres that say "do not show this number".
_PRES_RESTRICTION: Final = 0x60
_NO_VALUE: Final = frozenset({"", "unknown"})


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
