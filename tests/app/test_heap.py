"""The start-up heap is left out of full garbage collections (heap.settle, the ``run`` command)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.store.schema import upgrade
from tests.pipeline.support import (
    AMI_SECRET,
    AMI_USER,
    ROOT,
    FakeGateway,
    ServiceProcess,
    sqlite_url,
    wait_logged_in,
    write_config,
)

_SETTLE = textwrap.dedent(
    """
    import gc, json
    from asterisk_textback.app import heap
    kept = [[i] for i in range(100_000)]  # lives as long as the process
    before = len(gc.get_objects(generation=2)) + len(gc.get_objects(generation=1))
    frozen = heap.settle()
    after = sum(len(gc.get_objects(generation=g)) for g in range(3))
    print(json.dumps({"before": before, "frozen": frozen, "after": after}))
    """
)


def test_settle_moves_live_objects_out_of_later_collections() -> None:
    # A process of its own: a freeze lasts as long as the interpreter.
    done = subprocess.run(
        [sys.executable, "-c", _SETTLE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    seen = json.loads(done.stdout)
    assert seen["frozen"] >= 100_000
    # What the collector still walks is what is made after the freeze: next to nothing.
    assert seen["after"] < 1_000 < seen["before"]


async def test_run_settles_the_heap_before_it_connects_to_the_pbx(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "textback.db")
    await upgrade(url)
    log = tmp_path / "service.log"
    async with FakeGateway() as gateway, AmiServer({AMI_USER: AMI_SECRET}) as server:
        config = write_config(
            tmp_path / "textback.toml",
            ami_port=server.port,
            gateway_url=gateway.url,
            database_url=url,
        )
        service = ServiceProcess(config, log, cli_args=("-v",))
        await service.start()
        try:
            await wait_logged_in(server, service)
            assert await service.signal(signal.SIGTERM) == 0
        finally:
            await service.ensure_stopped()
    text = log.read_text()
    frozen = re.search(r"start-up heap frozen: (\d+) objects", text)
    assert frozen is not None, text
    # Everything imported and built at start-up (tens of thousands of objects) is frozen...
    assert int(frozen.group(1)) > 50_000
    # ...before the first AMI event can arrive.
    assert frozen.start() < text.index("AMI ")
