"""Voicemail facts: which mailbox a call reached, and whether a message was really left."""

from __future__ import annotations

from collections import OrderedDict


def mailbox_from_appdata(data: str) -> str | None:
    """``1001@default,u`` / ``1001&1002,su`` / ``1001`` -> ``1001@default``."""
    box = data.split(",", 1)[0].split("&", 1)[0].strip()
    if not box or box.startswith("$"):
        return None
    return box if "@" in box else f"{box}@default"


def mailbox_from_path(path: str) -> str | None:
    """``/var/spool/asterisk/voicemail/default/1001/INBOX/msg0000`` -> ``1001@default``."""
    parts = path.rstrip("/").split("/")
    try:
        i = parts.index("voicemail")
        return f"{parts[i + 2]}@{parts[i + 1]}"
    except (ValueError, IndexError):
        return None


class MailboxCounts:
    """The last new-message count seen per mailbox (bounded), to spot a message being left.

    ``MessageWaiting`` also fires when someone leaves VoiceMailMain or listens to a message:
    only a count that goes *up* means a caller left a message.
    """

    __slots__ = ("_limit", "_new")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._new: OrderedDict[str, int] = OrderedDict()

    def update(self, mailbox: str, waiting: str, new: int) -> bool:
        """Record ``new`` for ``mailbox``; True when it is a fresh message."""
        prev = self._new.pop(mailbox, None)
        self._new[mailbox] = new
        if len(self._new) > self._limit:
            self._new.popitem(last=False)
        return waiting == "1" and new >= 1 and (prev is None or new > prev)
