"""Catch-up after an AMI outage: calls that ended unseen are read back from the CDR.

After a reconnect the tracker knows which calls it lost sight of (their channels are gone)
and the gap (last event before the drop → the resync). The CDR — ``cdr_csv``'s Master.csv
or FreePBX's ``asteriskcdrdb`` — has every call that ended meanwhile: each is classified
(answered vs missed; the CDR cannot tell a left voicemail) and recorded under its Linkedid,
so a call the live path already recorded is never recorded, or texted, twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.cdr.csvfile import read_calls
from asterisk_textback.cdr.database import read_db_calls
from asterisk_textback.cdr.model import CdrCall, CdrDirection, CdrOutcome
from asterisk_textback.config import PbxSettings
from asterisk_textback.errors import ConfigError

log = logging.getLogger(__name__)

_DIRECTIONS = {
    CdrDirection.INBOUND: Direction.INBOUND,
    CdrDirection.INTERNAL: Direction.INTERNAL,
    CdrDirection.OUTBOUND: Direction.OUTBOUND,
}
#: Read this much before the gap too: a call's CDR row is stamped with its start.
_LOOKBACK_SECONDS = 3600.0


def cdr_call_ended(call: CdrCall, pbx: str) -> CallEnded:
    """A ``CallEnded`` from CDR rows (missed calls get reason no_answer, no mailbox)."""
    first = call.rows[0]
    ended = max((r.end or r.start) for r in call.rows)
    answered = call.outcome is CdrOutcome.ANSWERED
    name = first.clid.split('"')[1] if first.clid.count('"') >= 2 else ""
    return CallEnded(
        linkedid=call.key,
        direction=_DIRECTIONS.get(call.direction, Direction.OUTBOUND),
        outcome=Outcome.ANSWERED if answered else Outcome.MISSED_NO_VOICEMAIL,
        reason=Reason.ANSWERED if answered else Reason.NO_ANSWER,
        caller_number=call.caller,
        caller_name=name,
        did=call.did if call.direction is CdrDirection.INBOUND else "",
        queue=None,
        mailbox=None,
        started_at=call.started_at.timestamp(),
        ended_at=ended.timestamp(),
        ring_seconds=0.0,
        pbx=pbx,
    )


class CdrCatchUp:
    """Reads one PBX's CDR for an outage window and hands the calls found on."""

    def __init__(
        self,
        pbx: PbxSettings,
        submit: Callable[[CallEnded], None],
        environ: Mapping[str, str],
    ) -> None:
        self._pbx = pbx
        self._submit = submit
        self._zone = ZoneInfo(pbx.cdr_timezone)
        self._tasks: set[asyncio.Task[int]] = set()
        self._db_url: str | None = None
        if pbx.cdr_db_url_env:
            try:
                self._db_url = environ[pbx.cdr_db_url_env]
            except KeyError:
                raise ConfigError(
                    f"pbx.cdr_db_url_env: environment variable {pbx.cdr_db_url_env!r} is not set"
                ) from None

    @property
    def configured(self) -> bool:
        """Whether a CDR source is set for this PBX."""
        return self._db_url is not None or self._pbx.cdr_csv is not None

    def on_resync(self, lost: list[CallEnded], since: float, until: float) -> None:
        """The listener's resync hook: resolve in the background (the consumer never waits)."""
        task = asyncio.get_running_loop().create_task(self.resolve(lost, since, until))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for catch-ups in progress (on shutdown, before the recorder stops)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _read(self, since: float, until: float) -> list[CdrCall]:
        start = datetime.fromtimestamp(since - _LOOKBACK_SECONDS, tz=UTC)
        end = datetime.fromtimestamp(until, tz=UTC)
        if self._db_url is not None:
            return read_db_calls(self._db_url, start, end, self._zone)
        assert self._pbx.cdr_csv is not None
        return [c for c in read_calls(Path(self._pbx.cdr_csv), self._zone) if c.started_at >= start]

    async def resolve(self, lost: Iterable[CallEnded], since: float, until: float) -> int:
        """Replace lost calls by their CDR version, add the calls that ended in the gap.

        Every call is handed to ``submit`` once; lost calls the CDR does not know stay
        ``unknown``. Returns how many calls came from the CDR.
        """
        lost_calls = list(lost)
        try:
            found = await asyncio.to_thread(self._read, since, until)
        except Exception:
            log.exception("CDR catch-up for %s failed; lost calls stay unknown", self._pbx.name)
            found = []
        from_cdr: dict[str, CallEnded] = {}
        for cdr_call in found:
            ended = cdr_call_ended(cdr_call, self._pbx.name)
            if since <= ended.ended_at <= until:
                from_cdr[ended.linkedid] = ended
        for lost_call in lost_calls:
            self._submit(from_cdr.pop(lost_call.linkedid, lost_call))
        recovered = len(from_cdr)
        for recovered_call in sorted(from_cdr.values(), key=lambda c: c.ended_at):
            self._submit(recovered_call)
        if found:
            log.warning(
                "AMI outage on %s: %d call(s) recovered from the CDR", self._pbx.name, recovered
            )
        return recovered
