"""The webhook fuzzer, small enough to run with the tests so that it cannot rot."""

from __future__ import annotations

from bench.webhook_fuzz import report, run


async def test_no_forged_webhook_accepted_stored_or_crashing() -> None:
    tally = await run(requests=500, seed=20_240_105)
    summary = report(tally)
    assert tally.requests == 500, summary
    assert (tally.accepted_forged, tally.server_errors, tally.stored_forged) == (0, 0, 0), summary
    assert tally.adapter_exceptions == 0, summary
    # The control group got through, so "nothing stored" is not "nothing works".
    assert tally.genuine > 0, summary
    assert tally.genuine_accepted == tally.genuine, summary
    assert tally.stored_rows > 0, summary
