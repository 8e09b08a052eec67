"""Reading ``check``'s report in tests: its lines by check, and the one-fix rule."""

from __future__ import annotations

import re

_LINE = re.compile(r"^\[(PASS|WARN|SKIP|FAIL)\] ([^:]+): ")


def blocks(report: str) -> list[tuple[str, str, list[str]]]:
    """(status, check name, its lines) for each check, in the order printed."""
    found: list[tuple[str, str, list[str]]] = []
    for line in report.splitlines():
        head = _LINE.match(line)
        if head:
            found.append((head[1], head[2], [line]))
        else:
            assert found, f"a line before the first check: {line!r}"
            found[-1][2].append(line)
    return found


def status_of(report: str) -> dict[str, str]:
    """Check name -> PASS/WARN/SKIP/FAIL."""
    return {name: status for status, name, _ in blocks(report)}


def line_of(report: str, name: str) -> str:
    """Every line printed for check ``name``, joined."""
    return "\n".join(next(lines for _, n, lines in blocks(report) if n == name))


def assert_one_fix_per_fail(report: str) -> None:
    """Every FAIL has exactly one ``fix:`` line; nothing else has more than one."""
    for status, name, lines in blocks(report):
        fixes = [line for line in lines if line.strip().startswith("fix:")]
        assert len(fixes) == (1 if status == "FAIL" else len(fixes[:1])), (name, lines)
        assert all(line.count("fix:") == 1 for line in fixes), (name, lines)
        assert sum(line.count("fix:") for line in lines) == len(fixes), (name, lines)
