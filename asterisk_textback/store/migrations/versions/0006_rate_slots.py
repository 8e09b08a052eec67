"""An index on (kind, send_at): the rate caps read the text-backs due around a send time.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``ix_messages_kind_send_at``."""
    op.create_index("ix_messages_kind_send_at", "messages", ["kind", "send_at"])


def downgrade() -> None:
    """Drop ``ix_messages_kind_send_at`` (back to revision 0005)."""
    op.drop_index("ix_messages_kind_send_at", table_name="messages")
