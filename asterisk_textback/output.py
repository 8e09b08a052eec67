"""Printing finished calls for people (a table) and for programs (JSON lines)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TextIO

from asterisk_textback.calls.model import CallEnded

_COLUMNS = (
    ("ended", 8),
    ("direction", 9),
    ("outcome", 19),
    ("reason", 20),
    ("caller", 16),
    ("name", 18),
    ("did", 12),
    ("queue", 10),
    ("mailbox", 14),
    ("ring s", 6),
)


def _cut(text: str, width: int) -> str:
    # Caller names are attacker-controlled (CNAM): no control characters on a terminal.
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= width else text[: width - 1] + "…"


class CallPrinter:
    """Writes each call as it ends, either as a fixed-width table row or a JSON line."""

    def __init__(self, out: TextIO, *, as_json: bool) -> None:
        self._out = out
        self._json = as_json
        self._header_done = False

    def __call__(self, call: CallEnded) -> None:
        """Print one finished call."""
        if self._json:
            self._out.write(json.dumps(call.to_json(), ensure_ascii=False) + "\n")
        else:
            if not self._header_done:
                self._out.write(self._row([name for name, _ in _COLUMNS]) + "\n")
                self._header_done = True
            ended = datetime.fromtimestamp(call.ended_at).strftime("%H:%M:%S")
            self._out.write(
                self._row(
                    [
                        ended,
                        call.direction,
                        call.outcome,
                        call.reason,
                        call.caller_number,
                        call.caller_name,
                        call.did or "-",
                        call.queue or "-",
                        call.mailbox or "-",
                        f"{call.ring_seconds:.1f}",
                    ]
                )
                + "\n"
            )
        self._out.flush()

    @staticmethod
    def _row(values: list[str]) -> str:
        return "  ".join(
            _cut(str(v), w).ljust(w) for v, (_, w) in zip(values, _COLUMNS, strict=True)
        ).rstrip()
