"""Builders for policy tests: calls modelled on the recorded traces, times, settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.config import _format_error
from asterisk_textback.policy import ContactHistory, PolicySettings, RateSnapshot

# direct-voicemail-left.ami in tests/fixtures/traces/manifest.json: Pat Caller rings DID
# 5550100, phone 1001 rings 8 s, a voicemail is left; the call lasts 28 s.
TRACE_CALL = CallEnded(
    linkedid="1795756422.0",
    direction=Direction.INBOUND,
    outcome=Outcome.MISSED_VOICEMAIL,
    reason=Reason.NO_ANSWER,
    caller_number="2125550147",
    caller_name="Pat Caller",
    did="5550100",
    queue=None,
    mailbox="1001@default",
    started_at=0.0,
    ended_at=28.02,
    ring_seconds=8.01,
)


def epoch(local: str, zone: str = "America/New_York") -> float:
    """Epoch seconds of a wall-clock ``YYYY-MM-DDTHH:MM`` in ``zone``."""
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).timestamp()


def local(ts: float, zone: str) -> str:
    """``YYYY-MM-DDTHH:MM`` of epoch ``ts`` in ``zone`` (for readable assertions)."""
    return datetime.fromtimestamp(ts, ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def call_at(ended: float, duration: float = 28.02, **changes: Any) -> CallEnded:
    """The trace call, moved to end at epoch ``ended`` and changed as given."""
    return replace(TRACE_CALL, started_at=ended - duration, ended_at=ended, **changes)


def settings(**sections: Any) -> PolicySettings:
    """PolicySettings from TOML-shaped dicts (``business={...}, suppression={...}``)."""
    return PolicySettings.model_validate(sections)


def config_error(data: dict[str, Any]) -> str:
    """The message config.py would report for ``data`` (key path + problem)."""
    with pytest.raises(ValidationError) as info:
        PolicySettings.model_validate(data)
    return _format_error(info.value)


NY = "America/New_York"
#: A Wednesday, 11:00 in New York: open, and daytime for every US caller.
NOON = epoch("2026-06-10T11:00")
HOUR = 3600.0
#: A New York business open 09:00-17:00 on weekdays, closed on 2026-07-03.
HOURS: dict[str, Any] = {
    "timezone": NY,
    "hours": {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-07-03"],
}
BASE = settings(business=HOURS)


def history(**fields: Any) -> ContactHistory:
    """A ContactHistory with ``rates_global``/``rates_prefix`` shorthands."""
    rates = RateSnapshot(fields.pop("rates_global", 0), fields.pop("rates_prefix", 0))
    return ContactHistory(rates=rates, **fields)
