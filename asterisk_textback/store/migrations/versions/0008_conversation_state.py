"""Conversation state and staff replies: who sent a text, when staff read or handled a thread.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add ``messages.sent_by`` and the contacts' conversation read/handled times."""
    op.add_column("messages", sa.Column("sent_by", sa.String(64), nullable=True))
    op.add_column("contacts", sa.Column("conversation_seen_at", _TS, nullable=True))
    op.add_column("contacts", sa.Column("conversation_handled_at", _TS, nullable=True))


def downgrade() -> None:
    """Drop them again (back to revision 0007)."""
    # Native DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch copy would re-create the tables,
    # dropping the triggers of 0007 and firing ON DELETE SET NULL on the rows that point here.
    op.execute("ALTER TABLE contacts DROP COLUMN conversation_handled_at")
    op.execute("ALTER TABLE contacts DROP COLUMN conversation_seen_at")
    op.execute("ALTER TABLE messages DROP COLUMN sent_by")
