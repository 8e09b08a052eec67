"""LeaseKeeper: instances share the links fairly, never hold one together, and let go in time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from asterisk_textback.cli.main import main
from asterisk_textback.errors import ConfigError
from asterisk_textback.store import leases as store
from asterisk_textback.store.engine import create_engine
from asterisk_textback.store.schema import upgrade
from asterisk_textback.tenancy.leases import AlwaysOwned, LeaseKeeper, cluster_gate
from asterisk_textback.tenancy.settings import ClusterSettings

FAST = ClusterSettings(enabled=True, lease_seconds=3.0, renew_seconds=0.5)
LINKS = [f"default/pbx-{i}" for i in range(4)]


async def _until(check: object, what: str, limit: float = 10.0) -> float:
    assert callable(check)
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > limit:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - began


class Overlap:
    """Samples every 10 ms that no link is held by two keepers at once."""

    def __init__(self, keepers: Iterable[LeaseKeeper]) -> None:
        self.keepers = list(keepers)
        self.samples = 0
        self.both: list[str] = []

    async def run(self) -> None:
        while True:
            for link in LINKS:
                if sum(k.owned(link) for k in self.keepers) > 1:
                    self.both.append(link)
            self.samples += 1
            await asyncio.sleep(0.01)


async def test_two_instances_split_the_links_and_never_share_one(
    lease_engine: AsyncEngine,
) -> None:
    async with LeaseKeeper(lease_engine, "a", FAST, LINKS) as a:
        # "a" alone takes every link; "b" arriving later gets its fair share handed back.
        await _until(lambda: len(a.held()) == 4, "a to hold every link")
        async with LeaseKeeper(lease_engine, "b", FAST, LINKS) as b:
            overlap = Overlap([a, b])
            sampler = asyncio.create_task(overlap.run())
            await _until(lambda: len(a.held()) == 2 and len(b.held()) == 2, "a 2/2 split")
            await asyncio.sleep(1.5)  # stays split: no link goes back and forth
            assert (len(a.held()), len(b.held())) == (2, 2)
            assert set(a.held()) | set(b.held()) == set(LINKS)
            sampler.cancel()
        assert overlap.samples > 100
        assert overlap.both == []
        # "b" left gracefully (released): "a" takes its links back within about a round.
        await _until(lambda: len(a.held()) == 4, "a to take b's links back", limit=2.0)


async def test_a_keeper_that_cannot_renew_lets_go_before_another_may_take_over(
    lease_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    renew = store.renew_all

    async def hangs_for_a(
        engine: AsyncEngine, owner: str, links: Iterable[str], ttl: float
    ) -> frozenset[str]:
        if owner == "a" and hanging.is_set():
            await asyncio.Event().wait()  # the database stopped answering this instance
        return await renew(engine, owner, links, ttl)

    hanging = asyncio.Event()
    monkeypatch.setattr(store, "renew_all", hangs_for_a)
    async with LeaseKeeper(lease_engine, "a", FAST, LINKS[:2]) as a:
        await _until(lambda: len(a.held()) == 2, "a to hold its links")
        lost_at: dict[str, float] = {}
        owned_at: dict[str, float] = {}

        async def watch_lost(link: str) -> None:
            await a.wait_lost(link)
            lost_at[link] = time.monotonic()

        watchers = [asyncio.create_task(watch_lost(x)) for x in LINKS[:2]]
        hanging.set()
        hung = time.monotonic()
        async with LeaseKeeper(lease_engine, "b", FAST, LINKS[:2]) as b:
            for link in LINKS[:2]:
                await asyncio.wait_for(b.wait_owned(link), 10)
                owned_at[link] = time.monotonic()
        await asyncio.gather(*watchers)
        for link in LINKS[:2]:
            # Fenced at most lease - renew after the last renewal, before b could take it.
            assert lost_at[link] < owned_at[link]
            assert lost_at[link] - hung <= FAST.lease_seconds - FAST.renew_seconds + 0.2
            assert not a.owned(link)


async def test_a_lease_taken_from_under_a_keeper_is_lost_at_the_next_round(
    lease_engine: AsyncEngine,
) -> None:
    async with LeaseKeeper(lease_engine, "a", FAST, LINKS[:1]) as a:
        await asyncio.wait_for(a.wait_owned(LINKS[0]), 5)
        async with lease_engine.begin() as conn:
            await conn.execute(
                text("UPDATE public.textback_link_leases SET owner = 'intruder' WHERE link = :l"),
                {"l": LINKS[0]},
            )
        took = await _until(lambda: not a.owned(LINKS[0]), "the loss", limit=3.0)
        assert took <= FAST.renew_seconds + 0.5
        await asyncio.wait_for(a.wait_lost(LINKS[0]), 1)


async def test_links_added_and_removed_while_running(lease_engine: AsyncEngine) -> None:
    async with LeaseKeeper(lease_engine, "a", FAST, []) as a:
        await asyncio.wait_for(a.wait_owned("t1/pbx"), 5)  # an unknown link is competed for
        a.add_links(["t2/pbx"])
        await asyncio.wait_for(a.wait_owned("t2/pbx"), 5)
        a.remove_links(["t1/pbx"])
        assert not a.owned("t1/pbx")
        await asyncio.sleep(FAST.renew_seconds * 2.5)
        assert [x.link for x in await store.list_leases(lease_engine)] == ["t2/pbx"]
        assert a.held() == ["t2/pbx"]


async def test_no_cluster_means_every_link_is_owned_for_good() -> None:
    gate = AlwaysOwned()
    await asyncio.wait_for(gate.wait_owned("default/pbx"), 0.1)
    assert gate.owned("default/pbx")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(gate.wait_lost("default/pbx"), 0.1)


async def test_cluster_gate_needs_postgresql(tmp_path: object) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    try:
        async with cluster_gate(ClusterSettings(), engine, None) as gate:
            assert gate is None
        with pytest.raises(ConfigError, match=r"cluster\.enabled: .*postgresql"):
            async with cluster_gate(FAST, engine, "node1"):
                pass
    finally:
        await engine.dispose()


async def test_health_names_the_links_held_and_waited_for(lease_engine: AsyncEngine) -> None:
    async with LeaseKeeper(lease_engine, "other", FAST, LINKS[:1]) as other:
        await asyncio.wait_for(other.wait_owned(LINKS[0]), 5)
        async with LeaseKeeper(lease_engine, "me", FAST, LINKS[:2]) as me:
            await asyncio.wait_for(me.wait_owned(LINKS[1]), 5)
            await _until(lambda: me.rounds >= 2, "two rounds")
            health = me.health()
    assert health["owner"] == "me"
    assert health["held"] == [LINKS[1]]
    assert health["waiting"] == [LINKS[0]]
    assert health["failed_rounds"] == 0


def test_run_refuses_a_cluster_on_sqlite_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "t.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{db}"))
    cfg = tmp_path / "textback.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{db}"\n[web]\nenabled = false\n'
        "[cluster]\nenabled = true\n"
    )
    assert main(["run", "-c", str(cfg)]) != 0
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if "cluster.enabled" in x]
    assert "postgresql+asyncpg://" in line
