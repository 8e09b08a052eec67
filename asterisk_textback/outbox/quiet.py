"""Quiet hours at the moment of sending: a text-back never leaves outside its window.

The policy defers a text-back to the recipient's window when it decides
(``policy.window_opens``); but a text can still fall due later than planned — a retry's
backoff, a dispatcher that was down or busy, a poll that came late. The dispatcher asks this
gate just before a text-back leaves, and when it sets a retry: outside the window the text
goes back to the queue until the window opens (47 CFR 64.1200(c)(1) and the state rules of
``policy.quiet_rules``). A text held past its ``expires_at`` expires: late, never at night.

Only text-backs: a staff reply answers a live conversation, and a STOP confirmation must go
within 5 minutes or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from asterisk_textback.store.models import Message

__all__ = ["TEXTBACK", "QuietGate", "RetryWindow"]

#: The outbox kind of a missed-call text-back (``store.outbox.NewMessage.kind``).
TEXTBACK = "textback"

#: The first moment (epoch) at or after ``at`` a text to ``to`` may go out under the
#: recipient's quiet hours (``policy.window_opens``); None when no window opens soon.
RetryWindow = Callable[[str, float], float | None]

#: A window that opens this close to now counts as open (clock granularity).
_SLACK = 1.0


class QuietGate:
    """Whether a text-back may leave at a moment, and when it may if not."""

    def __init__(self, window: RetryWindow | None = None) -> None:
        """A gate on ``window`` (None: no quiet hours, every text may leave)."""
        self._window = window

    def use(self, window: RetryWindow | None) -> None:
        """Apply reloaded quiet hours."""
        self._window = window

    def closed_until(self, message: Message, at: float) -> float | None:
        """When the window of ``message``'s recipient opens, if it is closed at ``at``."""
        if self._window is None or message.kind != TEXTBACK:
            return None
        opens = self._window(message.to_e164, at)
        return opens if opens is not None and opens > at + _SLACK else None

    def retry_after(self, message: Message, backoff: timedelta, now: float) -> timedelta:
        """``backoff``, stretched so that the retry lands inside the recipient's window."""
        opens = self.closed_until(message, now + backoff.total_seconds())
        return backoff if opens is None else timedelta(seconds=opens - now)
