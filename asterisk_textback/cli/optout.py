"""``asterisk-textback optout add|remove|list|import|export`` against the configured database."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from asterisk_textback.app.service import database_url
from asterisk_textback.inbound import optout_csv as optout_io
from asterisk_textback.store import check_schema, create_engine, create_session_factory
from asterisk_textback.store.uow import unit_of_work
from asterisk_textback.textback.loading import PreparedConfig


async def run_optout(
    loaded: PreparedConfig,
    action: str,
    *,
    number: str | None = None,
    path: Path | None = None,
    out: TextIO | None = None,
) -> int:
    """Run one opt-out sub-command; the process exit code."""
    out = out or sys.stdout
    engine = create_engine(database_url(loaded, os.environ))
    region = loaded.settings.business.default_region
    now = datetime.now(UTC)
    try:
        await check_schema(engine)
        sessions = create_session_factory(engine)
        async with unit_of_work(sessions) as session:
            if action in ("add", "remove") and number is not None:
                change = optout_io.add if action == "add" else optout_io.remove
                try:
                    e164 = await change(session, number, region=region, now=now)
                except ValueError as exc:
                    print(f"asterisk-textback: error: {exc}", file=sys.stderr)
                    return 2
                verb = "opted out" if action == "add" else "may be texted again"
                out.write(f"{e164} {verb}\n")
            elif action == "list":
                for entry in await optout_io.list_opted_out(session):
                    when = entry.opted_out_at.isoformat() if entry.opted_out_at else "-"
                    out.write(f"{entry.e164}  {when}  {entry.source or '-'}\n")
            elif action == "export":
                if path is None:
                    await optout_io.export_csv(session, out)
                else:
                    with path.open("w", newline="", encoding="utf-8") as f:
                        n = await optout_io.export_csv(session, f)
                    out.write(f"{n} number(s) written to {path}\n")
            elif action == "import" and path is not None:
                with path.open(newline="", encoding="utf-8") as f:
                    report = await optout_io.import_csv(session, f, region=region, now=now)
                out.write(f"{report.added} opted out, {report.unchanged} already were\n")
                for line, reason in report.errors:
                    print(f"{path}:{line}: {reason}", file=sys.stderr)
                return 0 if report.ok else 1
    finally:
        await engine.dispose()
    return 0
