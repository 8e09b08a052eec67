"""What the policy knows about a caller from earlier calls and texts: a plain value object.

The storage layer fills it for the caller's E.164 number and rate prefix (both from
:func:`~asterisk_textback.policy.numbers.parse_caller`) just before calling ``decide``:

- ``opted_out`` / ``sms_capable``: the contact row (``sms_capable`` False after a provider
  said landline or not SMS-capable, or a lookup did).
- ``last_texted_at`` and ``texts_last_24h``: texts queued or sent to the number, through any
  DID (``store.contacts.last_texted_at`` and ``texts_since(now - 24 h)``).
- ``last_handled_at``: the latest time the number was answered on a call or called back by
  an extension.
- ``rates``: texts queued in the last 60 s in total, and to numbers starting with the
  caller's rate prefix (an E.164 string prefix, so ``to_e164 LIKE '+1212%'`` counts it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateSnapshot:
    """Texts queued in the last minute, everywhere and to the caller's number prefix."""

    global_last_minute: int = 0
    prefix_last_minute: int = 0


@dataclass(frozen=True, slots=True)
class ContactHistory:
    """A caller's texting history and the recent sending rate, as of the decision."""

    opted_out: bool = False
    #: None: never checked; False: a landline or otherwise unable to receive texts.
    sms_capable: bool | None = None
    #: Epoch seconds of the last text queued or sent to this number, from any DID.
    last_texted_at: float | None = None
    #: Texts queued or sent to this number in the 24 hours before the decision.
    texts_last_24h: int = 0
    #: Epoch seconds the caller last talked to somebody (answered call or call-back).
    last_handled_at: float | None = None
    rates: RateSnapshot = RateSnapshot()


#: A caller we know nothing about (``replay --dry-run`` uses it for every call).
NO_HISTORY = ContactHistory()
