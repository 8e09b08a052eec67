"""Bookings (conversions) attributed to missed calls, and an index for KPI periods.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the model's types: later model changes must not rewrite history.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``bookings`` and index ``calls.ended_at``."""
    op.create_table(
        "bookings",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("booked_at", _TS, nullable=False),
        sa.Column("starts_at", _TS, nullable=True),
        sa.Column("e164", sa.String(16), nullable=True),
        sa.Column("token", sa.String(32), nullable=True),
        sa.Column("call_id", _BIG_ID, nullable=True),
        sa.Column("message_id", _BIG_ID, nullable=True),
        sa.Column("attributed_by", sa.String(16), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bookings"),
        sa.UniqueConstraint("source", "external_id", name="uq_bookings_source_external_id"),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name="fk_bookings_call_id_calls", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_bookings_message_id_messages",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_bookings_call_id", "bookings", ["call_id"])
    op.create_index("ix_bookings_e164_booked_at", "bookings", ["e164", "booked_at"])
    op.create_index("ix_calls_ended_at", "calls", ["ended_at"])


def downgrade() -> None:
    """Drop ``bookings`` and the index (back to revision 0002)."""
    op.drop_index("ix_calls_ended_at", table_name="calls")
    op.drop_index("ix_bookings_e164_booked_at", table_name="bookings")
    op.drop_index("ix_bookings_call_id", table_name="bookings")
    op.drop_table("bookings")
