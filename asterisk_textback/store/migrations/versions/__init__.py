"""Alembic revisions of the asterisk-textback schema."""
