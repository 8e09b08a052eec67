"""The service as a child forked from an interpreter that has already imported it.

The crash and kill tests start the real ``run`` command a hundred times. Spawning
``python -m asterisk_textback`` costs about a second per start (imports), which made those
tests spend most of their time starting interpreters rather than killing services. Here a
:mod:`multiprocessing` fork server imports the command line once; each start forks it and
runs the same ``main(["run", ...])`` the console script runs, in a process of its own that
is SIGKILLed, SIGTERMed and SIGHUPed for real. Its exit code comes back through the fork
server (a child of that server, not of the test), in the form asyncio gives (-9 for SIGKILL).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from multiprocessing import resource_tracker
from multiprocessing.context import ForkServerContext
from pathlib import Path

#: What the fork server imports once, so a forked child starts without importing it. The
#: command line imports a command's dependencies only when it runs (``--help`` starts at
#: once), so the service's modules are named here: with ``cli.main`` alone every child
#: would import the whole service again (about a second per start).
PRELOAD = (
    "asterisk_textback.cli.main",
    "asterisk_textback.cli.run",
    "asterisk_textback.app.service",
    "asterisk_textback.textback.loading",
    "asterisk_textback.store.schema",
    "asterisk_textback.sms.vendors.webhook",
    "asterisk_textback.sms.vendors.log",
    "tests.pipeline.prefork",
)


def _context() -> ForkServerContext:
    """The fork-server context, told what to preload (read when its server first starts)."""
    context = multiprocessing.get_context("forkserver")
    assert isinstance(context, ForkServerContext)
    context.set_forkserver_preload(list(PRELOAD))
    return context


def _child(argv: list[str], log_path: str, environ: dict[str, str], cwd: str) -> None:
    """In the forked child: log to ``log_path`` and run the command line, as ``-m`` would."""
    from asterisk_textback.cli.main import main  # preloaded: already imported

    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    _own_resource_tracker()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    sys.exit(main(argv))


def _own_resource_tracker() -> None:
    """Forget the test process's resource tracker, as an exec'd service never knew it.

    The fork server hands its children the tracker of the test process. A service that is
    SIGKILLed never unregisters its semaphores (the dashboard's worker pool), so they would
    pile up there until the test run ends. With a tracker of its own (started on first
    use), each killed life's leftovers are cleaned up, and reported in its log, when it dies.
    """
    tracker = resource_tracker._resource_tracker  # no public reset
    if tracker._fd is not None:
        os.close(tracker._fd)
        tracker._fd = None
        tracker._pid = None


class ForkedService:
    """A forked ``main(argv)``: the part of ``asyncio.subprocess.Process`` the tests use."""

    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self._process = process
        self.pid = process.pid
        self._code: int | None = None

    @property
    def returncode(self) -> int | None:
        """The exit code once the child has exited (polled, never blocks); None before."""
        if self._code is None:
            self._code = self._process.exitcode
        return self._code

    @classmethod
    async def start(
        cls, argv: Sequence[str], log_path: Path, *, environ: Mapping[str, str], cwd: Path
    ) -> ForkedService:
        """Fork the child (the fork server starts, once per test process, on first use)."""
        process = _context().Process(
            target=_child, args=(list(argv), str(log_path), dict(environ), str(cwd))
        )
        # The first start launches the fork server and waits for its imports: off the loop.
        await asyncio.to_thread(process.start)
        return cls(process)

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the child itself (a real signal, not a request)."""
        if self.returncode is None:
            os.kill(self._pid(), signum)

    def kill(self) -> None:
        """SIGKILL the child."""
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        """SIGTERM the child."""
        self.send_signal(signal.SIGTERM)

    async def wait(self) -> int:
        """Wait for the exit (its status arrives on the fork server's sentinel pipe)."""
        loop = asyncio.get_running_loop()
        while (code := self.returncode) is None:
            readable: asyncio.Future[None] = loop.create_future()

            def ready(readable: asyncio.Future[None] = readable) -> None:
                if not readable.done():  # the reader may fire again before it is removed
                    readable.set_result(None)

            loop.add_reader(self._process.sentinel, ready)
            try:
                await readable
            finally:
                loop.remove_reader(self._process.sentinel)
        self._process.close()  # the sentinel pipe: one fd per life otherwise
        return code

    def _pid(self) -> int:
        assert self.pid is not None
        return self.pid
