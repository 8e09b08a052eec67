"""Command-line start-up: how long ``asterisk-textback --help`` and ``--version`` take.

Run from a checkout: ``python bench/cli_start.py [--runs 21] [--via script|module]``.

Each run is a fresh interpreter (``subprocess.run``), so every import is paid again, as it
is when an admin types the command. The figure is the median wall time of ``--runs`` runs
after two unmeasured warm-up runs (which only fill the page cache). The last line is
``cli_start_ms=<the slower of the --help and --version medians>``; the lines above it give
each command's median, the interpreter's own start (``python -c pass``) for comparison, and
the children's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).with_name("asterisk-textback")

#: The figure's two commands, then one sub-command's help for comparison.
COMMANDS = (("help", ["--help"]), ("version", ["--version"]), ("report_help", ["report", "-h"]))


def _median_ms(argv: list[str], runs: int, env: dict[str, str]) -> float:
    """Median wall time of ``argv`` in milliseconds; any failure stops the bench."""
    times = []
    for i in range(runs + 2):
        began = time.perf_counter()
        subprocess.run(argv, env=env, cwd=_ROOT, check=True, stdout=subprocess.DEVNULL)
        if i >= 2:  # the first two only warm the page cache
            times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> int:
    """Measure and print; the last line is the figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="measured runs per command")
    parser.add_argument(
        "--via",
        choices=("script", "module"),
        default="script" if _SCRIPT.exists() else "module",
        help="the installed console script (default when present) or python -m",
    )
    args = parser.parse_args()
    env = dict(os.environ)
    # python -m finds this checkout first, installed or not.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    base = [str(_SCRIPT)] if args.via == "script" else [sys.executable, "-m", "asterisk_textback"]
    python_ms = _median_ms([sys.executable, "-c", "pass"], args.runs, env)
    print(f"via={args.via} runs={args.runs} python_ms={python_ms:.0f}")
    medians = {}
    for name, argv in COMMANDS:
        medians[name] = _median_ms([*base, *argv], args.runs, env)
        print(f"{name}_ms={medians[name]:.0f}")
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak_rss_mb={rss_mb:.0f}")
    print(f"cli_start_ms={max(medians['help'], medians['version']):.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
