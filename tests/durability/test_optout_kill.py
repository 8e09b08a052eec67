"""Opt-outs survive SIGKILL right after the webhook's 200 (issue 4, "0 opt-outs lost").

The service runs as a real child process (``python -m asterisk_textback run``) against a
SQLite file, the in-repo AMI server and a local fake of Twilio's Messages API. Each round
posts correctly signed Twilio STOPs from fresh numbers and SIGKILLs the child the moment the
first 200 arrives, then restarts it. Every number whose STOP was answered 2xx must be opted
out in the database, with exactly one confirmation queued and at most one sent.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.store.schema import upgrade
from tests.durability.support import (
    AMI_SECRET,
    AMI_USER,
    FakeTwilio,
    Service,
    free_port,
    fresh_number,
    inbound_form,
    post_signed,
    query,
    wait_healthy,
    write_config,
)

#: Kill/restart rounds (each costs one forked start, about 0.2 s).
ROUNDS = int(os.environ.get("TEXTBACK_KILL_ROUNDS", "50"))
#: Services killed side by side, each with its own database, PBX and Twilio, taking every
#: LANES-th round: a round is mostly waiting for a start, so two overlap well on 2 cores.
LANES = int(os.environ.get("TEXTBACK_KILL_LANES", "2"))
#: STOPs posted concurrently per round: the kill also catches the others mid-request.
BURST = 3
#: Keywords cycled through, so more than the literal "STOP" is exercised.
KEYWORDS = ("STOP", "stop", "Unsubscribe", " STOP. ", "cancel", "please stop texting me")


@dataclass
class Tally:
    """What the webhook answered, per sender number."""

    answered: set[str] = field(default_factory=set)
    refused: Counter[int] = field(default_factory=Counter)
    cut: set[str] = field(default_factory=set)
    #: Seconds from each (re)start to the first 200 from /healthz.
    ready: list[float] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the test log."""
        return (
            f"{len(self.answered)} STOPs answered 2xx, {sum(self.refused.values())} non-2xx "
            f"{dict(self.refused)}, {len(self.cut)} cut off by the kill; restart to ready "
            f"{statistics.mean(self.ready):.2f}s mean, {max(self.ready):.2f}s max"
        )


async def _round(
    http: aiohttp.ClientSession, port: int, service: Service, first: int, tally: Tally
) -> None:
    """Post ``BURST`` STOPs at once; SIGKILL the service as soon as one gets its 2xx."""

    async def one(index: int) -> None:
        number = fresh_number(index)
        form = inbound_form(number, KEYWORDS[index % len(KEYWORDS)], index)
        status: int | None = None

        def answered(code: int) -> None:
            nonlocal status
            status = code
            if 200 <= code < 300:
                service.kill_now()  # the moment the 2xx status is in: no grace, no flush

        try:
            await post_signed(http, port, form, on_status=answered)
        except (aiohttp.ClientError, OSError):
            if status is None:
                tally.cut.add(number)  # no answer: the provider would retry it
                return
        if status is not None and 200 <= status < 300:
            tally.answered.add(number)
        elif status is not None:
            tally.refused[status] += 1

    await asyncio.gather(*(one(first + k) for k in range(BURST)))
    service.kill_now()  # in case every request failed
    code = await service.reap()
    assert code == -9, f"expected death by SIGKILL, got {code}:\n{service.log_tail()}"


def _count(db: Path, where: str) -> int:
    """How many outbox rows match ``where``."""
    ((n,),) = query(db, f"SELECT count(*) FROM messages WHERE {where}")
    return int(n)


@dataclass
class Lane:
    """One service's database and what its fake Twilio received."""

    db: Path
    sent_to: Counter[str]
    refused: int
    starts: int


async def _lane(workdir: Path, migrated: Path, rounds: range, tally: Tally) -> Lane:
    """One service in ``workdir`` (a copy of the ``migrated`` database): a kill per round."""
    db = workdir / "textback.db"
    shutil.copyfile(migrated, db)
    web_port = free_port()
    connector = aiohttp.TCPConnector(force_close=True)  # no keep-alive to a killed child
    async with (
        FakeTwilio() as twilio,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx,
        aiohttp.ClientSession(connector=connector) as http,
    ):
        config = write_config(
            workdir / "textback.toml",
            ami_port=pbx.port,
            web_port=web_port,
            twilio_url=twilio.url,
            database_url=f"sqlite+aiosqlite:///{db}",
        )
        service = Service(config, workdir / "service.log")
        try:
            for r in rounds:
                started = time.monotonic()
                await service.start()
                await wait_healthy(http, web_port, service)
                tally.ready.append(time.monotonic() - started)
                await _round(http, web_port, service, r * BURST, tally)
            # One last, undisturbed life: the confirmations still queued go out once.
            await service.start()
            await wait_healthy(http, web_port, service)
            async with asyncio.timeout(20):
                # The database is in another process: nothing to await but a poll.
                while _count(db, "status IN ('queued', 'sending')"):  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)  # room for a duplicate send to show up
            assert await service.terminate() == 0, service.log_tail()
        finally:
            await service.ensure_stopped()
    return Lane(db, twilio.per_number(), twilio.refused, service.starts)


async def test_no_opt_out_is_lost_when_killed_right_after_the_200(tmp_path: Path) -> None:
    """SIGKILL right after each STOP's 200: every answered STOP is an opt-out, 0 lost."""
    began = time.monotonic()
    # Migrated once, in this process (``db upgrade`` has tests of its own), and copied.
    migrated = tmp_path / "migrated.db"
    await upgrade(f"sqlite+aiosqlite:///{migrated}")
    tally = Tally()
    workdirs = [tmp_path / f"lane{i}" for i in range(LANES)]
    for workdir in workdirs:
        workdir.mkdir()
    # Rounds dealt out in turn: each sender number (by round) belongs to one service.
    lanes = await asyncio.gather(
        *(
            _lane(workdir, migrated, range(i, ROUNDS, LANES), tally)
            for i, workdir in enumerate(workdirs)
        )
    )

    opted_out: set[str] = set()
    stored: set[str] = set()
    confirmations: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    sent_to: Counter[str] = Counter()
    for lane in lanes:
        db = lane.db
        opted_out |= {e for (e,) in query(db, "SELECT e164 FROM contacts WHERE opted_out = 1")}
        stored |= {e for (e,) in query(db, "SELECT from_e164 FROM inbound_messages")}
        confirmations += Counter(
            to for (to,) in query(db, "SELECT to_e164 FROM messages WHERE kind = 'optout_confirm'")
        )
        statuses += Counter(
            s for (s,) in query(db, "SELECT status FROM messages WHERE kind = 'optout_confirm'")
        )
        sent_to += lane.sent_to
        assert lane.refused == 0
    lost = tally.answered - opted_out
    elapsed = time.monotonic() - began
    print(
        f"\n{ROUNDS} kills in {elapsed:.1f}s ({LANES} services side by side): "
        f"{tally.summary()}; {len(opted_out)} opted out "
        f"after the kills, {len(lost)} lost; confirmations {dict(statuses)}, "
        f"{len(sent_to)} numbers texted, max {max(sent_to.values(), default=0)} each"
    )
    assert sum(lane.starts for lane in lanes) == ROUNDS + LANES
    assert not tally.refused, tally.summary()
    assert len(tally.answered) >= ROUNDS, tally.summary()  # one per round at least
    assert lost == set(), f"opt-outs lost after SIGKILL: {sorted(lost)}"
    # Nothing opted out that was never posted, and a STOP stored is an opt-out applied.
    assert opted_out <= tally.answered | tally.cut
    assert stored == opted_out
    # At most one confirmation per number, queued with the opt-out (same transaction).
    assert set(confirmations) == opted_out
    assert max(confirmations.values()) == 1
    assert max(sent_to.values(), default=0) <= 1, sent_to.most_common(3)
    assert set(sent_to) <= opted_out
    assert set(statuses) <= {"sent", "unknown"}, statuses
