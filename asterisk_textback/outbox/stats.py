"""The dispatcher's counters, and why a text is tried again."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from asterisk_textback.errors import ProviderAuthError, ProviderError, ProviderTransientError

__all__ = ["DispatchStats", "retry_cause"]


@dataclass(slots=True)
class DispatchStats:
    """Counters shown on /healthz and the dashboard."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    recovered_unknown: int = 0
    expired: int = 0
    cancelled: int = 0
    errors: int = 0
    #: Retries by cause (:func:`retry_cause`): ``/metrics`` ``textback_send_retries_total``.
    retries_by_cause: Counter[str] = field(default_factory=Counter)


def retry_cause(exc: ProviderError) -> str:
    """Why a text is tried again: ``auth`` (sending paused), ``throttled`` (the provider said
    when to retry), ``connection`` (no answer: raised from a network error), else
    ``transient`` (a temporary refusal such as a 5xx)."""
    if isinstance(exc, ProviderAuthError):
        return "auth"
    if isinstance(exc, ProviderTransientError) and exc.retry_after is not None:
        return "throttled"
    if exc.__cause__ is not None:
        return "connection"
    return "transient"
