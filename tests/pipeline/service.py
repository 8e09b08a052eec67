"""The service as a child process of the pipeline tests: started, signalled, waited for.

``python -m asterisk_textback run -c CONFIG`` with its log in a file; or, for the tests
that start it many times, the same command forked from a pre-imported interpreter
(:mod:`.prefork`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from asterisk_textback.ami.sim.server import AmiServer
from tests.pipeline.prefork import ForkedService

ROOT = Path(__file__).resolve().parents[2]
_EXIT_TIMEOUT = 30.0
_LOGIN_TIMEOUT = 60.0


class ServiceProcess:
    """``python -m asterisk_textback run -c CONFIG`` as a child process, logs to a file."""

    def __init__(
        self,
        config: Path,
        log_path: Path,
        *,
        python_args: Sequence[str] = (),
        cli_args: Sequence[str] = (),
        forked: bool = False,
    ) -> None:
        self.config = config
        self.log_path = log_path
        #: Interpreter options before ``-m asterisk_textback`` (e.g. a profiler).
        self.python_args = tuple(python_args)
        #: Options before ``run`` (e.g. ``-v``).
        self.cli_args = tuple(cli_args)
        #: Fork each life from a pre-imported interpreter (:mod:`.prefork`): about 1 s less
        #: per start, for tests that start the service many times.
        self.forked = forked
        if forked and python_args:
            raise ValueError("a forked service takes no interpreter options")
        self.proc: asyncio.subprocess.Process | ForkedService | None = None
        self._log: IO[bytes] | None = None

    async def start(self) -> None:
        """Start the service (the log file is appended to across restarts)."""
        if self.forked:
            argv = [*self.cli_args, "run", "-c", str(self.config)]
            self.proc = await ForkedService.start(argv, self.log_path, environ=os.environ, cwd=ROOT)
            return
        self._log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.python_args,
            "-m",
            "asterisk_textback",
            *self.cli_args,
            "run",
            "-c",
            str(self.config),
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )

    @property
    def alive(self) -> bool:
        """Whether the child is running."""
        return self.proc is not None and self.proc.returncode is None

    async def signal(self, signum: int) -> int:
        """Send ``signum`` and wait (at most 30 s) for the exit; the return code."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signum)
        async with asyncio.timeout(_EXIT_TIMEOUT):
            code = await self.proc.wait()
        self._close_log()
        return code

    async def ensure_stopped(self) -> None:
        """Kill the child if it still runs (test clean-up)."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the service's log, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


async def wait_logged_in(server: AmiServer, service: ServiceProcess) -> None:
    """Wait (at most 60 s) for the service to log in; fail with its log if it died."""
    async with asyncio.timeout(_LOGIN_TIMEOUT):
        while not server.logged_in:
            if not service.alive:
                raise AssertionError(f"service exited before logging in:\n{service.log_tail()}")
            await asyncio.sleep(0.005)
