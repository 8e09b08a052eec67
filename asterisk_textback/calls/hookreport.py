"""What the dialplan hook reported for one call: a plain value (parsed in ``userevent``).

Its own module so that ``state`` (which keeps the report on a call) and ``userevent`` (which
parses it and folds it into the state) do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from asterisk_textback.calls.model import CallerVerification

__all__ = ["HookReport"]


@dataclass(frozen=True, slots=True)
class HookReport:
    """What the hangup handler saw on the caller's channel as it hung up."""

    uniqueid: str
    linkedid: str
    did: str
    caller: str
    dialstatus: str
    dialed_peer: str
    vmstatus: str
    mailbox: str | None
    queuestatus: str
    abandoned: bool
    answered_seconds: int
    excluded: bool
    #: When the event was received (or its Timestamp): the caller's channel was hanging up.
    at: float
    #: The spoken text-back disclosure played to its end (``Disclosure: yes``).
    disclosure: bool = False
    #: Caller ID verification (``verification.py``); None: a hook too old to report it.
    verification: CallerVerification | None = None
