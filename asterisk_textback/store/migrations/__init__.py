"""Alembic migration environment, packaged with asterisk-textback."""
