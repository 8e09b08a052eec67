"""The ``[crm]`` section: which endpoints get which events, and how failed posts are retried.

Pure pydantic, so that ``config.py`` combines it without importing the poster (aiohttp,
the database).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["CrmEndpoint", "CrmEventType", "CrmSettings"]

_NAME: Final = re.compile(r"[A-Za-z0-9_.-]+")


class CrmEventType(StrEnum):
    """What happened, as the ``event`` field and ``X-Textback-Event`` header name it."""

    MISSED_CALL = "missed_call"
    TEXT_SENT = "text_sent"
    REPLY = "reply"
    OPT_OUT = "opt_out"
    BOOKING = "booking"


class CrmEndpoint(BaseModel):
    """``[[crm.endpoints]]``: one receiver (HubSpot workflow, Zapier/n8n hook, own CRM)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    #: Stable identity of the endpoint's queue rows: renaming it orphans pending posts.
    name: str = Field(min_length=1, max_length=64)
    url: str
    #: The events posted here (default: all of them).
    events: tuple[CrmEventType, ...] = tuple(CrmEventType)
    #: Name of the environment variable holding the HMAC key.
    secret_env: str = Field(min_length=1)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("use only letters, digits, '_', '.' and '-' (no spaces)")
        return value

    @field_validator("url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http://)")
        return value


class CrmSettings(BaseModel):
    """``[crm]``: endpoints, the lead source tag, and how failed posts are retried."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    endpoints: tuple[CrmEndpoint, ...] = ()
    lead_source: str = Field(default="missed-call-textback", min_length=1, max_length=64)
    retry_min_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    #: After this many failed posts the event is marked failed (kept, never posted again).
    max_attempts: int = Field(default=15, ge=1, le=100)
    poll_seconds: float = Field(default=5.0, gt=0)
    batch_size: int = Field(default=20, ge=1, le=500)

    @field_validator("endpoints")
    @classmethod
    def _distinct(cls, value: tuple[CrmEndpoint, ...]) -> tuple[CrmEndpoint, ...]:
        names = [endpoint.name for endpoint in value]
        if len(set(names)) < len(names):
            raise ValueError(f"endpoint names must differ: {names}")
        return value

    @property
    def enabled(self) -> bool:
        """Whether any endpoint is configured."""
        return bool(self.endpoints)
