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
    """The last (new, old) message counts seen per mailbox (bounded).

    ``MessageWaiting`` on a caller's channel with new messages waiting is how a left message
    looks without the ``dialplan`` class. It also fires when someone leaves VoiceMailMain:
    listening moves messages from new to old, so an *old* count that went up means a
    listen, not a deposit (a deposit never touches the old folder). A lower new count alone
    is not a listen: messages may have been deleted since we last saw the mailbox.
    """

    __slots__ = ("_counts", "_limit")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._counts: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def update(self, mailbox: str, waiting: str, new: int, old: int) -> bool:
        """Record the counts for ``mailbox``; True when they show a message just left."""
        prev = self._counts.pop(mailbox, None)
        self._counts[mailbox] = (new, old)
        if len(self._counts) > self._limit:
            self._counts.popitem(last=False)
        listened = prev is not None and old > prev[1]
        return waiting == "1" and new >= 1 and not listened
