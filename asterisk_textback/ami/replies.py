"""What an AMI reply means: the error an ``Error`` answer maps to, named for the operator.

Pure (no socket), so the mapping is tested without a PBX and the connection stays small.
"""

from __future__ import annotations

from collections.abc import Mapping

from asterisk_textback.ami.types import QueueItem, Resync
from asterisk_textback.errors import AmiActionError, AmiError, AmiPermissionError

__all__ = ["ACTION_CLASSES", "describe", "reply_error"]

#: Classes Asterisk checks for an action. It checks the user's *write* classes
#: (manager.c, process_message), whatever the class of the events the action produces.
ACTION_CLASSES: Mapping[str, tuple[str, ...]] = {
    "coreshowchannels": ("system", "reporting"),
    "messagesend": ("message",),
    "showdialplan": ("config", "reporting"),
}
_REPR_LIMIT = 300


def reply_error(name: str, headers: Mapping[str, str], user: str, where: str) -> AmiError | None:
    """The error an answer to action ``name`` stands for, or None when it succeeded."""
    if headers.get("Response") not in ("Error", "Fail", "Failure"):
        return None
    message = headers.get("Message", "")
    if "permission denied" in message.lower():
        classes = ACTION_CLASSES.get(name.lower())
        need = (
            f"write class {' or '.join(repr(c) for c in classes)}"
            if classes
            else "a write class that allows it"
        )
        return AmiPermissionError(
            f"AMI user {user!r} on {where} may not run {name}: it needs {need} in manager.conf"
        )
    return AmiActionError(f"AMI action {name} failed on {where}: {message or headers}")


def describe(item: QueueItem) -> str:
    """A short text naming a queued item, for a log line about a handler that failed on it."""
    if isinstance(item, Resync):
        text = f"Resync({len(item.alive_uniqueids)} channels)"
    else:
        text = f"EventBatch of {len(item.events)}: " + ", ".join(map(repr, item.events[:3]))
    return text if len(text) <= _REPR_LIMIT else text[:_REPR_LIMIT] + "…"
