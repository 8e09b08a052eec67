"""Initial schema: calls, experiments, messages, contacts.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the model's types: later model changes must not rewrite history.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_MESSAGE_STATUSES = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "unknown",
    "cancelled",
    "expired",
    "suppressed",
)


def upgrade() -> None:
    """Create the four tables and their indexes."""
    op.create_table(
        "calls",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("caller_number", sa.String(255), nullable=False),
        sa.Column("caller_e164", sa.String(16), nullable=True),
        sa.Column("caller_name", sa.String(255), nullable=False),
        sa.Column("did", sa.String(255), nullable=False),
        sa.Column("queue", sa.String(255), nullable=True),
        sa.Column("mailbox", sa.String(255), nullable=True),
        sa.Column("answered_by", sa.String(255), nullable=True),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=False),
        sa.Column("ring_seconds", sa.Float(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("suppress_reason", sa.String(64), nullable=True),
        sa.Column("template", sa.String(64), nullable=True),
        sa.Column("variant", sa.String(64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
        sa.UniqueConstraint("pbx", "linkedid", name="uq_calls_pbx_linkedid"),
    )
    op.create_index("ix_calls_caller_e164_ended_at", "calls", ["caller_e164", "ended_at"])

    op.create_table(
        "experiments",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("variant", sa.String(64), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_experiments"),
        sa.UniqueConstraint("name", "variant", name="uq_experiments_name_variant"),
    )

    op.create_table(
        "messages",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("call_id", _BIG_ID, nullable=True),
        sa.Column("experiment_id", _BIG_ID, nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("to_e164", sa.String(16), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(16), nullable=False),
        sa.Column("template", sa.String(64), nullable=True),
        sa.Column("variant", sa.String(64), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                *_MESSAGE_STATUSES,
                name="message_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("send_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_at", _TS, nullable=True),
        sa.Column("sending_at", _TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider", sa.String(32), nullable=True),
        sa.Column("provider_message_id", sa.String(128), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
        sa.Column("delivered_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("idempotency_key", name="uq_messages_idempotency_key"),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name="fk_messages_call_id_calls", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name="fk_messages_experiment_id_experiments",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_messages_call_id", "messages", ["call_id"])
    op.create_index("ix_messages_status_next_attempt_at", "messages", ["status", "next_attempt_at"])
    op.create_index("ix_messages_to_e164_sent_at", "messages", ["to_e164", "sent_at"])
    op.create_index("ix_messages_created_at", "messages", ["created_at"])
    op.create_index(
        "ix_messages_provider_message_id", "messages", ["provider", "provider_message_id"]
    )

    op.create_table(
        "contacts",
        sa.Column("e164", sa.String(16), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("opted_out_at", _TS, nullable=True),
        sa.Column("opt_out_source", sa.String(64), nullable=True),
        sa.Column("sms_capable", sa.Boolean(), nullable=True),
        sa.Column("line_type", sa.String(32), nullable=True),
        sa.Column("line_checked_at", _TS, nullable=True),
        sa.Column("last_texted_at", _TS, nullable=True),
        sa.Column("texts_today", sa.Integer(), nullable=False),
        sa.Column("texts_day", sa.Date(), nullable=True),
        sa.Column("first_contact_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("e164", name="pk_contacts"),
    )


def downgrade() -> None:
    """Drop everything (an empty database again)."""
    op.drop_table("contacts")
    op.drop_table("messages")
    op.drop_table("experiments")
    op.drop_index("ix_calls_caller_e164_ended_at", table_name="calls")
    op.drop_table("calls")
