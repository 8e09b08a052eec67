"""Compliance records: every opt-out/opt-in (``consent_events``), the quiet-hours rule of a call.

``consent_events`` keeps each change of a number's consent (``store.consent_events``); the
backfill writes the one change ``contacts`` still knows for each number: an ``opt_out`` for
every number opted out today, an ``opt_in`` for every number whose opt-out was lifted (its
source recorded), with the contact's time and source, and, when a text made it, the words
of the STOP/START text stored when it happened (the latest one received from the number, of
that kind, written at or before the change). ``calls.quiet_rule`` is the quiet-hours rule
the call's text obeyed (NULL for the calls before this revision).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

#: As ``store.consent_events.WORDING_MAX`` at this revision.
_WORDING_MAX = 1600


def _backfill() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    now = datetime.now(UTC)
    # SQLite keeps naive UTC text in this fixed format (``store.types.UTCDateTime``).
    created: object = now.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else now
    true = "1" if sqlite else "true"
    # The text that made the change: same number, kind stop/start, stored (created_at = the
    # change's time in ``store.inbound``) at or before it, the latest such.
    linked = (
        "(SELECT i.id FROM inbound_messages i WHERE i.from_e164 = c.e164 "
        f"AND i.kind = CASE WHEN c.opted_out = {true} THEN 'stop' ELSE 'start' END "
        "AND i.created_at <= c.opted_out_at ORDER BY i.created_at DESC, i.id DESC LIMIT 1)"
    )
    bind.execute(
        sa.text(
            "INSERT INTO consent_events "
            "(e164, kind, at, source, wording, inbound_message_id, created_at) "
            "SELECT e164, kind, at, source, "
            f"(SELECT substr(m.body, 1, {_WORDING_MAX}) FROM inbound_messages m "
            "WHERE m.id = linked_id), linked_id, :created FROM ("
            f"SELECT c.e164 AS e164, CASE WHEN c.opted_out = {true} THEN 'opt_out' "
            "ELSE 'opt_in' END AS kind, coalesce(c.opted_out_at, c.updated_at) AS at, "
            "c.opt_out_source AS source, "
            f"CASE WHEN c.opt_out_source LIKE 'sms:%' THEN {linked} END AS linked_id "
            f"FROM contacts c WHERE c.opted_out = {true} OR c.opt_out_source IS NOT NULL"
            ") AS changes ORDER BY at, e164"
        ),
        {"created": created},
    )


def upgrade() -> None:
    """Add ``consent_events`` (backfilled from ``contacts``) and ``calls.quiet_rule``."""
    op.create_table(
        "consent_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("e164", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("wording", sa.String(_WORDING_MAX), nullable=True),
        sa.Column("inbound_message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('opt_out', 'opt_in')", name="ck_consent_events_kind"),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name="fk_consent_events_inbound_message_id_inbound_messages",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_consent_events"),
    )
    op.create_index("ix_consent_events_e164_at", "consent_events", ["e164", "at"])
    _backfill()
    op.add_column("calls", sa.Column("quiet_rule", sa.String(200), nullable=True))


def downgrade() -> None:
    """Drop them again (back to revision 0009)."""
    # Native DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch copy would re-create ``calls``,
    # dropping its triggers (0007) and nulling ``messages.call_id`` through ON DELETE SET NULL.
    op.execute("ALTER TABLE calls DROP COLUMN quiet_rule")
    op.execute("DROP INDEX IF EXISTS ix_consent_events_e164_at")
    op.execute("DROP TABLE consent_events")
