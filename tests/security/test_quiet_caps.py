"""A text the rate caps hold later never lands in the recipient's quiet hours.

Thirty missed calls from one Texas prefix at 20:58:30 Houston time, 10 texts a minute to a
prefix: the first ten leave at once, the next ten at 20:59:30, and the last ten would leave
at 21:00:30 — after Texas's 9 pm. They go at the next opening instead (09:00 the next
morning), still valid for the whole of max_age from there, and the decision says why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from asterisk_textback.store.models import Call
from tests.policy.helpers import epoch, local
from tests.security.support import Clock, Sessions, missed, record_together, recorder, settings
from tests.security.support import textbacks as outbox_texts

HOUSTON = "America/Chicago"
END = epoch("2026-12-07T20:58:30", HOUSTON)  # a Monday


async def test_a_cap_hold_past_nine_pm_waits_for_the_morning(session_factory: Sessions) -> None:
    calls = [missed(f"713555{i:04d}", f"late-{i}", now=END + 1) for i in range(30)]
    config = settings(quiet_hours="strict", max_age_minutes=60)
    await record_together([recorder(session_factory, Clock(END + 1), config)], calls)
    texts = await outbox_texts(session_factory)
    assert len(texts) == 30
    when = sorted(local(m.send_at.replace(tzinfo=UTC).timestamp(), HOUSTON) for m in texts)
    assert when.count("2026-12-07T20:58") == 10
    assert when.count("2026-12-07T20:59") == 10
    assert when.count("2026-12-08T09:00") == 10
    due = datetime.fromtimestamp(END + 1, UTC)
    for message in texts[:20]:
        # Held within the evening: valid for max_age from when it was due, as before.
        assert message.expires_at.replace(tzinfo=UTC) == due + timedelta(minutes=60)
    for message in texts[20:]:
        # Moved to the morning: max_age counts from the window's opening.
        assert message.expires_at - message.send_at == timedelta(minutes=60)
    async with session_factory() as session:
        actions = (await session.scalars(select(Call.action))).all()
    assert [str(a) for a in actions] == ["send"] * 30
