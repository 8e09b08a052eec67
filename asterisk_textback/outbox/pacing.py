"""A host's idle outbox polls, spread over every tenant's dispatcher (:class:`PollBudget`).

A dispatcher is woken at once when a text is queued in its own process, and with a budget,
after a claim that found nothing it sleeps until the outbox's next due text (a retry, a
deferred or delayed text): those go out on time however long the poll. What is left for
the poll to find is a text queued by another process or instance. With hundreds of tenants
in one process, polling each outbox every ``dispatch.poll_seconds`` would cost hundreds of
transactions a second while idle; the budget spreads the polls so that all the host's
dispatcher workers together make at most ``per_second`` of them a second.
"""

from __future__ import annotations

__all__ = ["PollBudget"]


class PollBudget:
    """At most ``per_second`` idle polls a second across the dispatcher workers that joined."""

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError(f"per_second must be positive, not {per_second!r}")
        self._per_second = per_second
        self._workers = 0

    @property
    def workers(self) -> int:
        """The dispatcher workers polling now."""
        return self._workers

    def join(self) -> None:
        """A worker starts polling."""
        self._workers += 1

    def leave(self) -> None:
        """A worker stopped."""
        self._workers = max(0, self._workers - 1)

    def interval(self, poll_seconds: float) -> float:
        """Seconds between one worker's idle polls: ``poll_seconds``, or longer so that the
        workers together stay within the budget."""
        return max(poll_seconds, self._workers / self._per_second)
