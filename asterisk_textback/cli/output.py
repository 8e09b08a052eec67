"""Printing finished calls for people (a table) and for programs (JSON lines)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from asterisk_textback.calls.model import CallEnded

#: Adds a ``decision`` object to a call (``replay --dry-run``).
Decider = Callable[[CallEnded], dict[str, Any]]

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

    def __init__(self, out: TextIO, *, as_json: bool, decider: Decider | None = None) -> None:
        self._out = out
        self._json = as_json
        self._decider = decider
        self._header_done = False

    def __call__(self, call: CallEnded) -> None:
        """Print one finished call (and, with a decider, what would be texted)."""
        decision = self._decider(call) if self._decider is not None else None
        if self._json:
            data = call.to_json()
            if decision is not None:
                data["decision"] = decision
            self._out.write(json.dumps(data, ensure_ascii=False) + "\n")
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
            if decision is not None:
                self._out.write(_describe(decision) + "\n")
        self._out.flush()

    @staticmethod
    def _row(values: list[str]) -> str:
        return "  ".join(
            _cut(str(v), w).ljust(w) for v, (_, w) in zip(values, _COLUMNS, strict=True)
        ).rstrip()


def _describe(decision: dict[str, Any]) -> str:
    if decision["action"] == "send":
        return (
            f"          -> text {decision['to']} ({decision['template']}/{decision['variant']}, "
            f"{decision['segments']} seg {decision['encoding']}): {decision['body']}"
        )
    return f"          -> no text: {decision['reason']}"
