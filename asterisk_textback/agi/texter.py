"""A dialplan's request for a text, through the same decide → render step as a missed call.

:func:`~asterisk_textback.textback.drafting.decide_and_render` runs with
:func:`explicit_policy`: the policy of a missed call minus what only judges a missed call.
Kept: the number checks (anonymous — also when caller ID presentation is restricted —,
short code, invalid, country, blocked number types), opt-out, known landline, the
per-number daily cap (caller ID can be spoofed: nobody gets pressed into a text storm) and
the global and per-prefix rates (SMS pumping). Dropped: the call checks and ``[[rules]]``
(the dialplan chose the template), "handled since" and the cooldown (the caller is on the
line asking for it) and quiet hours (same). Caller ID verification (``suppression.
caller_verification``) applies, but FastAGI's environment (``agi_*``) carries no channel
variables, so no verification result reaches it: under ``not_failed`` (the default) and
``off`` nothing is refused for it, under ``passed`` every such text is
(``suppressed:caller_not_verified``: the verified-only choice covers spoofed callers
pressing 1 too). Retries are idempotent: the outbox key is the
PBX, the channel's uniqueid and the template, so one channel gets one such text, ever. The
text is committed alone (no call row): :func:`~asterisk_textback.store.caps.enqueue`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.agi.request import TextRequest
from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.calls.utc import utc
from asterisk_textback.config import Settings
from asterisk_textback.logs.mask import phone
from asterisk_textback.policy import NO_HISTORY, PolicySettings, RuleSettings, parse_caller
from asterisk_textback.store import caps, history, outbox
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.textback.drafting import decide_and_render
from asterisk_textback.textback.loading import PreparedConfig

__all__ = ["ERROR", "MESSAGE_KIND", "QUEUED", "AgiTexter", "TextOutcome", "explicit_policy"]

log = logging.getLogger(__name__)

QUEUED: Final = "queued"
ERROR: Final = "error"
#: ``messages.kind`` of texts asked for by the dialplan (missed-call texts are "textback").
MESSAGE_KIND: Final = "agi"


@dataclass(frozen=True, slots=True)
class TextOutcome:
    """What became of a request: the ``TEXTBACK_STATUS`` value and why."""

    status: str
    detail: str
    message_id: int | None = None


def error(detail: str) -> TextOutcome:
    """An ``error`` answer saying why."""
    return TextOutcome(ERROR, detail)


def explicit_policy(settings: Settings, template: str, delay: float) -> PolicySettings:
    """The policy for a text the caller asked for: one rule, no cooldown, no quiet hours."""
    rule = RuleSettings(name="agi", template=template, send_delay_seconds=delay)
    suppression = settings.suppression.model_copy(
        update={"cooldown_hours": 0.0, "quiet_hours": None}
    )
    return PolicySettings(business=settings.business, rules=(rule,), suppression=suppression)


def _stand_in(request: TextRequest, now: float, pbx: str) -> CallEnded:
    """A call standing in for the request, so that the policy and the templates apply unchanged."""
    return CallEnded(
        linkedid=request.uniqueid,
        direction=Direction.INBOUND,
        outcome=Outcome.MISSED_NO_VOICEMAIL,
        reason=Reason.NO_ANSWER,
        caller_number=request.to,
        caller_name=request.caller_name,
        did=request.did,
        queue=None,
        mailbox=None,
        started_at=now,
        ended_at=now,
        ring_seconds=0.0,
        pbx=pbx,
    )


class AgiTexter:
    """Turns a :class:`TextRequest` into an outbox row or a suppression; never raises."""

    def __init__(
        self,
        loaded: PreparedConfig,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_queued: Callable[[], None],
        pbx: str = "default",
        clock: Callable[[], float] = time.time,
        tracking_secret: str = "",
    ) -> None:
        self._loaded = loaded
        self._sessions = sessions
        self._on_queued = on_queued
        self._pbx = pbx
        self._clock = clock
        self._tracking_secret = tracking_secret

    def use(self, loaded: PreparedConfig) -> None:
        """Serve requests arriving from now on with a reloaded config (``SIGHUP``)."""
        self._loaded = loaded

    async def text(self, request: TextRequest) -> TextOutcome:
        """Decide, render and commit the text ``request`` asks for."""
        try:
            return await self._text(request)
        except Exception:
            log.exception("AGI request %s (%s) failed", request.uniqueid, request.template)
            return error("internal error (logged)")

    def _key(self, request: TextRequest) -> str:
        return outbox.idempotency_key(
            self._pbx, request.uniqueid, f"{MESSAGE_KIND}:{request.template}"
        )

    async def _text(self, request: TextRequest) -> TextOutcome:
        loaded, settings = self._loaded, self._loaded.settings
        if request.template not in loaded.renderer:
            return error(f"no template named {request.template!r}")
        key = self._key(request)
        now = self._clock()
        at = utc(now)
        async with self._sessions() as session:
            # A retried AGI (same channel, same template) is answered before the policy
            # runs again: its own first text would otherwise count against the caps.
            existing = await outbox.id_for_key(session, key)
        if existing is not None:
            return TextOutcome(QUEUED, "already queued for this channel", existing)
        call = _stand_in(request, now, self._pbx)
        number = parse_caller(request.to, settings.business.default_region)
        hist = NO_HISTORY
        if number.e164 is not None:
            async with self._sessions() as session:
                hist = await history.history_for_policy(
                    session, number, settings.suppression, now=at
                )
            hist = replace(hist, last_handled_at=None)  # the caller is on the line, asking
        policy = explicit_policy(settings, request.template, request.delay)
        drafted = await decide_and_render(
            call,
            hist,
            policy,
            loaded,
            now=now,
            tracking_secret=self._tracking_secret,
            kind=MESSAGE_KIND,
        )
        decision, draft, new = drafted.decision, drafted.draft, drafted.message
        if draft is None or new is None:
            return TextOutcome(f"suppressed:{decision.reason}", decision.detail)
        limits, prefix = caps.Caps.of(policy.suppression), decision.rate_prefix
        async with unit_of_work(self._sessions) as session:  # the caps again, racing writers
            found = await caps.enqueue(session, new, limits, key=key, prefix=prefix, now=at)
        message, created, slot = found
        if message is None:
            return TextOutcome(f"suppressed:{slot.reason}", slot.detail)
        if created:
            try:
                self._on_queued()
            except Exception:
                # The text is committed: the dispatcher's next poll sends it anyway.
                log.exception("waking the dispatcher failed")
        detail = f"to {phone(draft.to)}" if created else "already queued"  # a log line
        return TextOutcome(QUEUED, detail, message.id)
