"""Per PBX link: up to when its calls are recorded, for the start-up CDR catch-up.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``pbx_marks``."""
    op.create_table(
        "pbx_marks",
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("seen_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pbx", name="pk_pbx_marks"),
    )


def downgrade() -> None:
    """Drop ``pbx_marks`` (back to revision 0004)."""
    op.drop_table("pbx_marks")
