"""What ``check`` found, one result per line: shared by the checks and the command."""

from __future__ import annotations

from dataclasses import dataclass

#: Seconds ``check`` watches AMI events for proof of the read classes (``--watch``).
DEFAULT_WATCH = 5.0
#: Said under a failure whose check gave no fix of its own (a bug: every FAIL should).
_NO_FIX = "see the line above; run check -v for the details"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the report: what was checked, whether it passed, and the fix if not.

    ``warn``: passed, but something is worth the admin's attention (the fix says what).
    ``skipped``: not tried because an earlier line failed (it says which); not a failure.
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn: bool = False
    skipped: bool = False

    @property
    def status(self) -> str:
        """PASS, WARN, SKIP or FAIL."""
        if not self.ok:
            return "FAIL"
        return "SKIP" if self.skipped else "WARN" if self.warn else "PASS"


def format_results(results: list[CheckResult]) -> str:
    """A PASS/WARN/SKIP/FAIL list; exactly one fix line under each failure (and warning)."""
    lines = []
    for r in results:
        first, *more = r.detail.split("\n")
        lines.append(f"[{r.status}] {r.name}: {first}")
        lines.extend(f"       {line}" for line in more)
        fix = " ".join(r.fix.split())
        if not r.ok or (r.warn and fix):
            lines.append(f"       fix: {fix or _NO_FIX}")
    return "\n".join(lines)
