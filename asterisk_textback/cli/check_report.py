"""What ``check`` found, one result per line: shared by the checks and the command."""

from __future__ import annotations

from dataclasses import dataclass

#: Seconds ``check`` watches AMI events for proof of the read classes (``--watch``).
DEFAULT_WATCH = 5.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the report: what was checked, whether it passed, and the fix if not.

    ``warn``: passed, but something is worth the admin's attention (the fix says what).
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn: bool = False


def format_results(results: list[CheckResult]) -> str:
    """A PASS/WARN/FAIL list with the fix under each failure or warning."""
    lines = []
    for r in results:
        status = "FAIL" if not r.ok else "WARN" if r.warn else "PASS"
        first, *more = r.detail.split("\n")
        lines.append(f"[{status}] {r.name}: {first}")
        lines.extend(f"       {line}" for line in more)
        if (not r.ok or r.warn) and r.fix:
            lines.append(f"       fix: {r.fix}")
    return "\n".join(lines)
