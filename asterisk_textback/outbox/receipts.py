"""Recording the provider's acceptances in batches, off the path of the next text.

A worker that has sent its texts hands the receipts here and claims the next ones at once;
this task writes every receipt waiting in one transaction (``results.mark_sent_many``) and
then tells the CRM hooks. Until a receipt is written its text stays ``sending`` with
``sending_at`` set, which is what it was during the request: a crash in between leaves it
``unknown``, never sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asterisk_textback.calls.utc import utc
from asterisk_textback.store import results
from asterisk_textback.store.uow import unit_of_work

log = logging.getLogger(__name__)

#: On stop, a batch that cannot be written is retried this many times before giving up.
_FINAL_ATTEMPTS = 5


class ReceiptWriter:
    """Writes :class:`results.SentReceipt` s as they come, many per transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        on_sent: Callable[[list[int]], Awaitable[None]] | None = None,
        retry_seconds: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._sleep = sleep
        self._on_sent = on_sent
        self._retry_seconds = retry_seconds
        self._pending: list[results.SentReceipt] = []
        self._ready = asyncio.Event()
        self._closing = False
        #: Receipts written, and transactions that failed (each retried).
        self.written = 0
        self.errors = 0

    @property
    def backlog(self) -> int:
        """Receipts not yet written."""
        return len(self._pending)

    def add(self, receipts: Iterable[results.SentReceipt]) -> None:
        """Queue receipts for writing (never blocks)."""
        self._pending.extend(receipts)
        if self._pending:
            self._ready.set()

    def close(self) -> None:
        """Write what is queued, then return from :meth:`run`."""
        self._closing = True
        self._ready.set()

    async def run(self) -> None:
        """Write receipts until :meth:`close`; everything added before it is written."""
        failures = 0
        while True:
            await self._ready.wait()
            self._ready.clear()
            if self._pending:
                if await self._write():
                    failures = 0
                else:
                    failures += 1
                    if self._closing and failures >= _FINAL_ATTEMPTS:
                        log.error(
                            "%d sent text(s) could not be recorded as sent; they stay "
                            "'sending' and become 'unknown' at the next start (never re-sent)",
                            len(self._pending),
                        )
                        return
                    await self._sleep(self._retry_seconds)
                    self._ready.set()
                    continue
            if self._closing and not self._pending:
                return

    async def _write(self) -> bool:
        batch, self._pending = self._pending, []
        now = utc(self._clock())
        try:
            async with unit_of_work(self._sessions) as session:
                await results.mark_sent_many(session, batch, now=now)
        except Exception:
            self.errors += 1
            log.exception("recording %d sent text(s) failed; retrying", len(batch))
            self._pending = batch + self._pending
            return False
        self.written += len(batch)
        if self._on_sent is not None:
            try:
                await self._on_sent([r.message_id for r in batch])
            except Exception:
                log.exception("the sent-text hook failed for %d text(s)", len(batch))
        return True
