"""Storing inbound texts: once per provider id, linked to the missed call, consent atomic."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.store import contacts, inbound, outbox
from asterisk_textback.store.models import InboundMessage, Message
from asterisk_textback.store.schema import alembic_config
from asterisk_textback.store.uow import unit_of_work
from tests.inbound.helpers import CALLER, DID, T0, add_call

Sessions = async_sessionmaker[AsyncSession]


def _new(
    msg_id: str, kind: InboundKind = InboundKind.REPLY, *, minutes: int = 5
) -> inbound.NewInbound:
    return inbound.NewInbound(
        provider="fake",
        provider_message_id=msg_id,
        from_e164=CALLER,
        to_e164=DID,
        body="hi",
        received_at=T0 + timedelta(minutes=minutes),
        kind=kind,
        keyword=None if kind is InboundKind.REPLY else kind.value.upper(),
    )


def _confirm(kind: str) -> outbox.NewMessage:
    return outbox.NewMessage(CALLER, DID, "ok", 1, "GSM-7", T0, kind=kind)


async def test_retry_is_stored_once(session_factory: Sessions) -> None:
    async with unit_of_work(session_factory) as session:
        first = await inbound.record_inbound(session, _new("m1"), now=T0)
        again = await inbound.record_inbound(session, _new("m1"), now=T0)
        count = await session.scalar(select(func.count()).select_from(InboundMessage))
    assert first.created
    assert not again.created
    assert again.inbound.id == first.inbound.id
    assert count == 1


async def test_linked_to_latest_texted_call_within_window(session_factory: Sessions) -> None:
    await add_call(session_factory, linkedid="old", ended_at=T0 - timedelta(days=3))
    latest = await add_call(session_factory, linkedid="new", ended_at=T0 - timedelta(hours=1))
    await add_call(session_factory, linkedid="untexted", ended_at=T0, texted=None)
    await add_call(session_factory, linkedid="queued", ended_at=T0, texted=MessageStatus.QUEUED)
    async with unit_of_work(session_factory) as session:
        stored = await inbound.record_inbound(session, _new("m1"), now=T0)
        stale = await inbound.record_inbound(session, _new("m2", minutes=60 * 24 * 30), now=T0)
    assert stored.inbound.call_id == latest.id
    assert stale.inbound.call_id is None


async def test_stop_opts_out_cancels_queued_and_confirms_once(session_factory: Sessions) -> None:
    await add_call(session_factory, texted=MessageStatus.QUEUED, linkedid="pending")
    async with unit_of_work(session_factory) as session:
        first = await inbound.record_inbound(
            session, _new("s1", InboundKind.STOP), now=T0, confirmation=_confirm("optout_confirm")
        )
        second = await inbound.record_inbound(
            session, _new("s2", InboundKind.STOP), now=T0, confirmation=_confirm("optout_confirm")
        )
        contact = await contacts.get_contact(session, CALLER)
        statuses = {k: st for k, st in await session.execute(select(Message.kind, Message.status))}
    assert first.consent_changed
    assert first.confirmation is not None
    assert first.cancelled == 1
    assert not second.consent_changed
    assert second.confirmation is None
    assert contact is not None
    assert contact.opted_out
    assert contact.opt_out_source == "sms:STOP"
    assert statuses == {"textback": MessageStatus.CANCELLED, "optout_confirm": MessageStatus.QUEUED}


async def test_start_only_confirms_a_real_opt_in(session_factory: Sessions) -> None:
    async with unit_of_work(session_factory) as session:
        nothing = await inbound.record_inbound(
            session, _new("a", InboundKind.START), now=T0, confirmation=_confirm("optin_confirm")
        )
        await contacts.opt_out(session, CALLER, now=T0, source="cli")
        back = await inbound.record_inbound(
            session, _new("b", InboundKind.START), now=T0, confirmation=_confirm("optin_confirm")
        )
        contact = await contacts.get_contact(session, CALLER)
    assert not nothing.consent_changed
    assert nothing.confirmation is None
    assert back.consent_changed
    assert back.confirmation is not None
    assert back.confirmation.idempotency_key == f"inbound:{back.inbound.id}:optin_confirm"
    assert contact is not None
    assert not contact.opted_out


async def test_help_always_answered(session_factory: Sessions) -> None:
    async with unit_of_work(session_factory) as session:
        for msg_id in ("h1", "h2"):
            stored = await inbound.record_inbound(
                session, _new(msg_id, InboundKind.HELP), now=T0, confirmation=_confirm("help")
            )
            assert stored.confirmation is not None


async def test_forward_claim_lease_and_finish(session_factory: Sessions) -> None:
    async with unit_of_work(session_factory) as session:
        row = (await inbound.record_inbound(session, _new("m1"), now=T0)).inbound
        assert await inbound.due_forwards(session, now=T0, since=T0) == [row.id]
        claimed = await inbound.claim_forward(session, row.id, now=T0, lease=timedelta(minutes=2))
        assert claimed is not None
        assert claimed.forward_attempts == 1
        # Leased: neither the sweep nor a second claimer may take it.
        assert await inbound.claim_forward(session, row.id, now=T0, lease=timedelta(1)) is None
        assert await inbound.due_forwards(session, now=T0, since=T0) == []
        later = T0 + timedelta(minutes=3)
        await inbound.finish_forward(
            session, row.id, now=later, done=["email"], error="webhook: down", retry_at=later
        )
        assert await inbound.due_forwards(session, now=later, since=T0) == [row.id]
        await inbound.finish_forward(
            session, row.id, now=later, done=["email", "webhook"], error=None
        )
        assert await inbound.due_forwards(session, now=later, since=T0) == []
        done = await inbound.get_inbound(session, row.id)
    assert done is not None
    assert done.forwarded_at == later
    assert done.forward_done == "email,webhook"


def test_migration_0002_down_and_up(empty_url: str) -> None:
    config = alembic_config(empty_url)
    command.upgrade(config, "head")
    command.downgrade(config, "0001")
    command.upgrade(config, "head")
