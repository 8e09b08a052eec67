"""Catch-up after an AMI outage: calls that ended unseen come back from the real CDR."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.app.service import RunningService, serve
from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from asterisk_textback.config import settings_from_mapping
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.models import Call, Message
from asterisk_textback.store.schema import upgrade
from asterisk_textback.textback.catchup import CdrCatchUp
from asterisk_textback.textback.loading import prepare

MASTER = Path(__file__).resolve().parents[1] / "fixtures" / "cdr" / "Master.csv"
_FORMAT = "%Y-%m-%d %H:%M:%S"


def _rows() -> list[list[str]]:
    with MASTER.open(newline="") as f:
        return list(csv.reader(f))


def shifted_master(to: datetime, squeeze: float = 1.0) -> str:
    """The real Master.csv moved so the last call ends at ``to`` (UTC).

    ``squeeze`` > 1 also shortens the 4-minute recording so every call fits a short gap.
    """
    rows = _rows()
    last = max(datetime.strptime(r[11], _FORMAT) for r in rows).replace(tzinfo=UTC)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    for r in rows:
        for i in (9, 10, 11):
            if r[i]:
                at = datetime.strptime(r[i], _FORMAT).replace(tzinfo=UTC)
                r[i] = (to - (last - at) / squeeze).strftime(_FORMAT)
        writer.writerow(r)
    return out.getvalue()


async def test_resolve_replaces_lost_calls_and_adds_the_gap(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    cdr = tmp_path / "Master.csv"
    cdr.write_text(shifted_master(now))
    got: list[CallEnded] = []
    catchup = CdrCatchUp(PbxSettings(cdr_csv=str(cdr)), got.append, {})
    first_uid = _rows()[0][16]
    lost = CallEnded(
        linkedid=first_uid,
        direction=Direction.INBOUND,
        outcome=Outcome.UNKNOWN,
        reason=Reason.CONNECTION_LOST,
        caller_number="2125550147",
        caller_name="",
        did="5550100",
        queue=None,
        mailbox=None,
        started_at=now.timestamp() - 300,
        ended_at=now.timestamp() - 200,
        ring_seconds=0,
    )
    since = (now - timedelta(minutes=10)).timestamp()
    await catchup.resolve([lost], since, now.timestamp() + 1)
    await catchup.drain()  # calls that ended in the last 2 s come from the last read
    assert catchup.stats.recovered == 14  # the 15 calls of the recording, one the lost one
    assert len(got) == 15  # the re-read hands none of them on twice
    by_id = {c.linkedid: c for c in got}
    assert by_id[first_uid].outcome is Outcome.ANSWERED  # the CDR knows the lost call's end
    outcomes = sorted(c.outcome.value for c in got if c.direction.value == "inbound")
    assert outcomes.count("answered") == 3
    assert outcomes.count("missed_no_voicemail") == 11


async def test_outage_gap_is_recovered_by_the_running_service(
    tmp_path: Path, traces_dir: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await upgrade(url)
    cdr = tmp_path / "Master.csv"
    cdr.write_text("")
    frames = read_trace(traces_dir / "direct-answered.ami")[:3]  # some traffic before the drop
    async with AmiServer({"tb": "pw"}) as pbx:
        settings = settings_from_mapping(
            {
                "pbx": {
                    "port": pbx.port,
                    "username": "tb",
                    "secret": "pw",
                    "reconnect_min": 0.05,
                    "reconnect_max": 0.2,
                    "cdr_csv": str(cdr),
                },
                "database": {"url": url},
                "web": {"enabled": False},
                "suppression": {"quiet_hours": False},
            }
        )
        stop = asyncio.Event()

        async def drive(parts: RunningService) -> None:
            await parts.connection.wait_ready()
            await pbx.stream(frames)
            await asyncio.sleep(0.2)
            pbx.accept_connections = False
            pbx.drop_connections()
            await asyncio.sleep(2.0)
            # While we were away the PBX finished fifteen calls and wrote their CDR (second
            # resolution: squeezed into the last second of the gap).
            cdr.write_text(shifted_master(datetime.now(UTC) - timedelta(seconds=0.3), 1000))
            pbx.accept_connections = True
            async with asyncio.timeout(10):
                while parts.recorder.recorded < 15:  # noqa: ASYNC110 - recorder's counter
                    await asyncio.sleep(0.05)
            stop.set()

        started = time.time()
        await serve(prepare(settings), stop, environ={}, on_ready=drive)
    assert time.time() - started < 20
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            calls = (await session.scalars(select(Call))).all()
            texts = (await session.scalars(select(Message))).all()
    finally:
        await engine.dispose()
    assert len(calls) == 15
    missed = [c for c in calls if c.outcome.value == "missed_no_voicemail"]
    assert len(missed) == 12  # 11 inbound + the internal one
    # Texted: missed inbound calls with a real number, one per caller (cooldown).
    assert 1 <= len(texts) <= 11
    assert all(t.to_e164.startswith("+") for t in texts)
