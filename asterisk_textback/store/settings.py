"""The ``[database]`` section: where calls, the outbox and contacts are stored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DatabaseSettings"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatabaseSettings(_Frozen):
    """Where calls, the outbox and contacts are stored."""

    #: SQLite file (the embedded default) or ``postgresql+asyncpg://user@host/db``.
    url: str = "sqlite+aiosqlite:///textback.db"
    #: Environment variable holding the password, merged into ``url`` (keeps it out of files).
    password_env: str | None = None
    #: PostgreSQL: connections kept open in the pool, and how many more it may open at a
    #: busy moment. One process hosting many tenants shares this one pool.
    pool_size: int = Field(default=10, ge=1, le=1000)
    max_overflow: int = Field(default=10, ge=0, le=1000)
