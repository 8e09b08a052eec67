"""What ``/metrics`` reads of one running business: its parts' counters and its outbox."""

from __future__ import annotations

from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.app.parts import RunningService
from asterisk_textback.store.daily_series import status_counts
from asterisk_textback.store.uow import reading
from asterisk_textback.web.metrics import MetricsSource

__all__ = ["metrics_source"]


def metrics_source(
    parts: RunningService, sessions: async_sessionmaker[AsyncSession]
) -> MetricsSource:
    """The numbers of ``parts`` (read at each scrape) and the outbox behind ``sessions``."""
    stats = parts.dispatcher.stats

    def texts() -> Counter[str]:
        return Counter(
            sent=stats.sent,
            retried=stats.retried,
            failed=stats.failed,
            unknown=stats.unknown,
            cancelled=stats.cancelled,
            expired=stats.expired,
        )

    async def depth() -> dict[str, int]:
        async with reading(sessions) as session:
            return await status_counts(session)

    return MetricsSource(
        calls_by_outcome=lambda: dict(parts.recorder.outcomes),
        texts_sent=texts,
        send_latency=parts.dispatcher.latency,
        ami_states=lambda: {p.name: str(p.connection.state) for p in parts.pbxes},
        outbox_depth=depth,
        send_retries=lambda: dict(stats.retries_by_cause),
    )
