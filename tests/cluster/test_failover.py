"""Three real ``run`` processes share one PostgreSQL; the busiest is SIGKILLed mid-stream.

Every PBX link must be owned again well within 30 s (lease_seconds 6, renew_seconds 1.5),
never by two instances at once (each built-in AMI server counts its logged-in sessions),
and every missed call that ended — before, during and after the failover — must be recorded
once and texted once (the gap is read back from each PBX's ``Master.csv``).
"""

from __future__ import annotations

from pathlib import Path

from bench.failover_support import run_failover

LEASE_SECONDS = 6.0
RENEW_SECONDS = 1.5


async def test_sigkill_of_the_busiest_instance_loses_and_repeats_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    run = await run_failover(
        pg_url,
        tmp_path,
        instances=3,
        links=4,
        calls_per_link=30,
        every=0.5,
        kill_after=5.0,
        lease_seconds=LEASE_SECONDS,
        renew_seconds=RENEW_SECONDS,
    )
    print(run.line())
    assert run.killed_links >= 2  # the busiest of three instances on four links
    # The lease expires lease_seconds after the last renewal; a survivor's next round
    # takes it; its AMI login follows at once.
    assert run.failover_seconds < LEASE_SECONDS + 2 * RENEW_SECONDS + 2.0
    assert run.max_sessions == 1
    assert run.calls == 4 * 30
    assert run.lost == 0
    assert run.duplicates == 0
    killed = {
        link for link, owner in run.owners_before.items() if owner not in run.owners_after.values()
    }
    assert killed
    assert all(run.owners_after[link] != run.owners_before[link] for link in killed)
