"""Inbound texts (replies, STOP/START/HELP) and delivery reports that arrive early.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the model's types: later model changes must not rewrite history.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``inbound_messages`` and ``pending_delivery_reports``."""
    op.create_table(
        "inbound_messages",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=False),
        sa.Column("from_e164", sa.String(16), nullable=False),
        sa.Column("to_e164", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("keyword", sa.String(64), nullable=True),
        sa.Column("call_id", _BIG_ID, nullable=True),
        sa.Column("forwarded_at", _TS, nullable=True),
        sa.Column("forward_done", sa.String(64), nullable=False),
        sa.Column("forward_attempts", sa.Integer(), nullable=False),
        sa.Column("forward_error", sa.Text(), nullable=True),
        sa.Column("forward_next_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_messages"),
        sa.UniqueConstraint(
            "provider", "provider_message_id", name="uq_inbound_messages_provider_message_id"
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name="fk_inbound_messages_call_id_calls",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_inbound_messages_call_id", "inbound_messages", ["call_id"])
    op.create_index(
        "ix_inbound_messages_from_e164_received_at",
        "inbound_messages",
        ["from_e164", "received_at"],
    )
    op.create_index("ix_inbound_messages_forwarded_at", "inbound_messages", ["forwarded_at"])

    op.create_table(
        "pending_delivery_reports",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("failure", sa.String(16), nullable=True),
        sa.Column("reported_at", _TS, nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pending_delivery_reports"),
        sa.UniqueConstraint(
            "provider",
            "provider_message_id",
            "state",
            name="uq_pending_delivery_reports_provider_message_id_state",
        ),
    )


def downgrade() -> None:
    """Drop the two tables (back to revision 0001)."""
    op.drop_table("pending_delivery_reports")
    op.drop_index("ix_inbound_messages_forwarded_at", table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_from_e164_received_at", table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_call_id", table_name="inbound_messages")
    op.drop_table("inbound_messages")
