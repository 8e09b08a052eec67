"""The durable queue of outgoing CRM webhooks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the model's types: later model changes must not rewrite history.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``crm_events``."""
    op.create_table(
        "crm_events",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("delivered_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_crm_events"),
        sa.UniqueConstraint("endpoint", "idempotency_key", name="uq_crm_events_endpoint_key"),
    )
    op.create_index(
        "ix_crm_events_status_next_attempt_at", "crm_events", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    """Drop ``crm_events`` (back to revision 0003)."""
    op.drop_index("ix_crm_events_status_next_attempt_at", table_name="crm_events")
    op.drop_table("crm_events")
