"""Compliance facts on each call: the spoken disclosure played, the caller ID verification.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``calls.disclosure_played``, ``calls.caller_verification`` and the held-count index."""
    op.add_column(
        "calls",
        sa.Column("disclosure_played", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("calls", sa.Column("caller_verification", sa.String(16), nullable=True))
    # The Overview counts the texts held for an unverified caller ID from this index alone.
    held = sa.text("suppress_reason = 'caller_not_verified'")
    op.create_index(
        "ix_calls_unverified_held",
        "calls",
        ["ended_at", "did"],
        sqlite_where=held,
        postgresql_where=held,
    )


def downgrade() -> None:
    """Drop them again (back to revision 0008)."""
    op.drop_index("ix_calls_unverified_held", table_name="calls")
    # Native DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch copy would re-create ``calls``,
    # dropping its triggers (0007) and nulling ``messages.call_id`` through ON DELETE SET NULL.
    for name in ("caller_verification", "disclosure_played"):
        op.execute(f"ALTER TABLE calls DROP COLUMN {name}")
