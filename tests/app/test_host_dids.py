"""Two tenants on one PBX, its DIDs split between them: each call recorded once, by the
tenant whose DID was called, and texted by that tenant's provider."""

from __future__ import annotations

import time
from pathlib import Path

from asterisk_textback.ami.sim.server import AmiServer
from asterisk_textback.ami.sim.tracefile import read_trace
from asterisk_textback.ami.sim.workload import call_stream
from asterisk_textback.app.dids import did_key, for_dids
from asterisk_textback.app.host import Host
from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason
from tests.app.hostsupport import (
    TRACE_DID,
    callers,
    host_run,
    main_config,
    migrate,
    recorded,
    tenant_file,
    texts,
    until,
)
from tests.app.reloadsupport import BodyGateway
from tests.pipeline.support import AMI_SECRET, AMI_USER, TRACES

ACME_DID = b"5550400"


def _call(direction: Direction, did: str) -> CallEnded:
    return CallEnded(
        linkedid="1.1",
        direction=direction,
        outcome=Outcome.MISSED_NO_VOICEMAIL,
        reason=Reason.NO_ANSWER,
        caller_number="+12125550147",
        caller_name="",
        did=did,
        queue=None,
        mailbox=None,
        started_at=0.0,
        ended_at=1.0,
        ring_seconds=1.0,
    )


def test_a_did_is_compared_by_its_last_ten_digits() -> None:
    assert did_key("+1 (212) 555-0300") == did_key("2125550300") == "2125550300"
    kept: list[CallEnded] = []
    ours = for_dids(["+1 212-555-0300"], kept.append)
    ours(_call(Direction.INBOUND, "12125550300"))
    ours(_call(Direction.INBOUND, "2125550400"))  # another tenant's number
    ours(_call(Direction.OUTBOUND, ""))  # an extension calling out: not filtered
    assert [(c.direction, c.did) for c in kept] == [
        (Direction.INBOUND, "12125550300"),
        (Direction.OUTBOUND, ""),
    ]
    assert for_dids([], kept.append) == kept.append  # no DIDs: the PBX is the tenant's own


async def test_a_shared_pbx_split_by_did(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'main.db'}"
    await migrate(url, ["acme"])
    trace = read_trace(TRACES / "ringgroup-novm-caller-hangup-ringing.ami")
    to_acme = [frame.replace(TRACE_DID, ACME_DID) for frame in trace]
    # Calls alternate: default's DID, acme's DID, default's, ... (5 calls: 3 and 2).
    frames = call_stream([trace, to_acme], 5, rate=20, start_at=time.time() - 5)
    async with (
        BodyGateway() as gw_default,
        BodyGateway() as gw_acme,
        AmiServer({AMI_USER: AMI_SECRET}) as pbx,
    ):
        main = main_config(
            tmp_path, ami_port=pbx.port, gateway_url=gw_default.url, database_url=url, web_port=None
        )
        main.write_text(main.read_text() + '\n[tenant]\ndids = ["555-0300"]\n')
        tenant_file(
            main,
            "acme",
            marker="ACME",
            sender="+15555550201",
            gateway_url=gw_acme.url,
            dids=[ACME_DID.decode()],
        )

        async def drive(host: Host) -> None:
            assert [v.id for v in host.views()] == ["default", "acme"]
            for view in host.views():
                await view.parts.connection.wait_ready()
            await pbx.wait_logged_in(2)
            await pbx.stream(frames)
            await until(
                lambda: (len(gw_default.texts), len(gw_acme.texts)) == (3, 2), "both tenants' texts"
            )
            assert (recorded(host, "default"), recorded(host, "acme")) == (3, 2)

        await host_run(main, drive)
    assert len(texts(gw_default, "DEFAULT")) == 3
    assert len(texts(gw_acme, "ACME")) == 2
    default, acme = await callers(url, "default"), await callers(url, "acme")
    assert {did for _, did in default} == {TRACE_DID.decode()}
    assert {did for _, did in acme} == {ACME_DID.decode()}
    assert not {n for n, _ in default} & {n for n, _ in acme}
    assert len(default) + len(acme) == 5
