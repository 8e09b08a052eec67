"""Conversation state and staff replies: who sent a text, when staff read or handled a thread.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add ``messages.sent_by`` and the contacts' conversation read/handled times."""
    op.add_column("messages", sa.Column("sent_by", sa.String(64), nullable=True))
    op.add_column("contacts", sa.Column("conversation_seen_at", _TS, nullable=True))
    op.add_column("contacts", sa.Column("conversation_handled_at", _TS, nullable=True))


def downgrade() -> None:
    """Drop them again (back to revision 0006)."""
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("conversation_handled_at")
        batch.drop_column("conversation_seen_at")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("sent_by")
