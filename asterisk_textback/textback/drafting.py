"""The one decide → render step behind every text: a missed call's and a dialplan request's.

A finished call (:class:`~asterisk_textback.textback.handler.CallHandler`) and an ``AGI()``
request (:class:`~asterisk_textback.agi.server.AgiTexter`) both come here with the caller's
history: the policy decides, a send is rendered, and the outbox row to commit is built. What
is committed around that row differs on purpose and stays with the callers: a call is stored
with its decision, grouped with other calls; a dialplan request has no call row of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.model import CallEnded
from asterisk_textback.calls.utc import utc
from asterisk_textback.errors import ProviderError
from asterisk_textback.logs.mask import phone
from asterisk_textback.policy import (
    ContactHistory,
    Decision,
    PolicyConfig,
    SuppressReason,
    decide,
    window_opens,
)
from asterisk_textback.sms.lookup import LineLookup
from asterisk_textback.store import caps, contacts, outbox
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.templates.compose import Draft, compose
from asterisk_textback.textback.loading import PreparedConfig

__all__ = [
    "Drafted",
    "IsLandline",
    "decide_and_render",
    "known_landline",
    "outbox_row",
    "reserve_in_window",
]

log = logging.getLogger(__name__)

#: Asked about a number the policy would text: True if it is known to take no texts.
IsLandline = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Drafted:
    """A decision and, when it sends, the rendered text and the outbox row to commit."""

    decision: Decision
    draft: Draft | None
    message: outbox.NewMessage | None


def outbox_row(draft: Draft, *, provider: str, kind: str) -> outbox.NewMessage:
    """The outbox row of a rendered text (times as aware UTC datetimes)."""
    expires = None if draft.expires_at is None else utc(draft.expires_at)
    return outbox.NewMessage(
        to_e164=draft.to,
        sender=draft.sender,
        body=draft.body,
        segments=draft.segments,
        encoding=draft.encoding,
        send_at=utc(draft.send_at),
        expires_at=expires,
        kind=kind,
        template=draft.template,
        variant=draft.variant,
        experiment=draft.experiment,
        provider=provider,
    )


async def decide_and_render(
    call: CallEnded,
    history: ContactHistory,
    policy: PolicyConfig,
    loaded: PreparedConfig,
    *,
    now: float,
    tracking_secret: str,
    kind: str = "textback",
    landline: IsLandline | None = None,
) -> Drafted:
    """Decide about ``call`` under ``policy``; render the text and its outbox row if it sends.

    ``landline`` is asked only about a number the policy would text (a lookup costs money);
    a number it names as a landline is decided again as one that takes no texts.
    """
    decision = decide(call, history, policy, now)
    wanted = decision.send and decision.to is not None
    if wanted and landline is not None and await landline(str(decision.to)):
        history = replace(history, sms_capable=False)
        decision = decide(call, history, policy, now)
    if not decision.send:
        return Drafted(decision, None, None)
    settings = loaded.settings
    draft = compose(
        call,
        decision,
        settings,
        loaded.renderer,
        first_contact=history.last_texted_at is None,
        tracking_secret=tracking_secret,
    )
    return Drafted(decision, draft, outbox_row(draft, provider=settings.provider.name, kind=kind))


async def known_landline(
    sessions: async_sessionmaker[AsyncSession],
    lookup: LineLookup,
    e164: str,
    now: float,
    *,
    cache_days: float,
) -> bool:
    """Look the line type up (unless a recent answer is stored); True if it takes no texts.

    A failed lookup never blocks the text: it is an optimisation, not a gate.
    """
    at = utc(now)
    async with sessions() as session:
        contact = await contacts.get_contact(session, e164)
    checked = None if contact is None else contact.line_checked_at
    if checked is not None and checked > at - timedelta(days=cache_days):
        return contact is not None and contact.sms_capable is False
    try:
        info = await lookup(e164)
    except ProviderError as exc:
        log.warning("line-type lookup of %s failed (texting anyway): %s", phone(e164), exc)
        return False
    async with unit_of_work(sessions) as session:
        await contacts.record_line_type(
            session, e164, now=at, line_type=info.line_type, sms_capable=info.sms_capable
        )
    return info.sms_capable is False


async def reserve_in_window(
    session: AsyncSession,
    message: outbox.NewMessage,
    *,
    prefix: str | None,
    limits: caps.Caps,
    now: float,
    policy: PolicyConfig,
) -> tuple[caps.Slot, outbox.NewMessage]:
    """Take the text's send slot under the caps (:func:`.caps.reserve`), inside its window.

    A rate-cap hold moves a text later; when that lands in the recipient's quiet hours the
    slot is asked for again from the window's opening, with ``max_age`` counted from there
    as for a text the policy deferred. Returns the slot and the message at its times.
    """
    send_at, expires_at = message.send_at, message.expires_at
    slot = caps.Slot(send_at)
    moved: list[str] = []
    for _ in range(4):
        slot = await caps.reserve(
            session,
            to=message.to_e164,
            prefix=prefix,
            send_at=send_at,
            expires_at=expires_at,
            caps=limits,
            now=utc(now),
        )
        if slot.send_at is None or slot.send_at == send_at:
            break
        held = slot.send_at.timestamp()
        opens = window_opens(message.to_e164, held, policy)
        if opens is not None and opens <= held:
            break
        moved.append(slot.detail)
        if opens is None:
            why = f"{slot.detail}, then no texting window within 8 days"
            return caps.Slot(None, SuppressReason.QUIET_HOURS, why), message
        # The hold ran into the recipient's quiet hours: from the window's opening.
        if expires_at is not None:
            expires_at = utc(opens) + (expires_at - send_at)
        send_at = utc(opens)
    at = slot.send_at
    if at is None:
        return slot, message
    if moved:
        then = f"; {slot.detail}" if slot.detail else ""
        detail = f"{moved[0]}, into the recipient's quiet hours: at their opening{then}"
        slot = caps.Slot(at, slot.reason, detail)
    if at != message.send_at:
        message = replace(message, send_at=at, expires_at=expires_at)
    return slot, message
