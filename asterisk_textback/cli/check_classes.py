"""``check``'s read-class verdict: from manager.conf when readable, else from the events seen.

Kept apart from the other checks because the deduction (config line, or evidence per class
over a watch window) is the one part of ``check`` with real logic of its own.
"""

from __future__ import annotations

import asyncio
import contextlib

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.managerconf import UserReadLine, parse_getconfig, user_read_line
from asterisk_textback.ami.privileges import (
    TRACKER_CLASSES,
    ClassVerdict,
    PrivilegeObserver,
    Verdict,
)
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.ami.types import EventBatch, QueueItem
from asterisk_textback.cli.check_report import CheckResult
from asterisk_textback.errors import AmiError, AmiPermissionError

#: Classes the tracker cannot classify without; "user" joins them once the hook is loaded.
_REQUIRED = frozenset({"call", "agent"})
_CLASS_USE = {
    "call": "Newchannel/Dial*/Hangup: every call is classified from them",
    "agent": "QueueCallerJoin/Abandon, AgentConnect: queue answered vs abandoned",
    "user": "UserEvent(TextBack) of the dialplan hook",
    "dialplan": "optional: Newexten/VarSet give the DID, VMSTATUS and a greeting hang-up's mailbox",
}
#: Where FreePBX keeps AMI users: manager.conf #includes the other two, in this order.
_MANAGER_FILES = ("manager.conf", "manager_additional.conf", "manager_custom.conf")


def _classes_fix(username: str) -> str:
    return (
        f"read = {','.join(TRACKER_CLASSES)} in the [{username}] section of "
        "/etc/asterisk/manager_custom.conf (plain Asterisk: manager.conf), then "
        "asterisk -rx 'manager reload'"
    )


def _severity(missing: list[str], hook_loaded: bool) -> tuple[bool, bool]:
    """(ok, warn) for these missing classes: required ones fail, the others warn."""
    required = _REQUIRED | ({"user"} if hook_loaded else set())
    if any(name in required for name in missing):
        return False, False
    return True, bool(missing)


class ClassWatch:
    """Feeds every event a connection receives (from its login on) to a PrivilegeObserver."""

    def __init__(self, conn: AmiConnection) -> None:
        self.observer = PrivilegeObserver()
        self._settled = asyncio.Event()
        loop = asyncio.get_running_loop()
        self.started = loop.time()
        self._task = loop.create_task(conn.run_consumer(self._handle), name="check: AMI events")

    def _handle(self, item: QueueItem) -> None:
        if isinstance(item, EventBatch):
            for event in item.events:
                self.observer.feed(event)
            if self.observer.settled:
                self._settled.set()

    async def wait(self, seconds: float) -> float:
        """Watch until ``seconds`` after login, or earlier once every class is decided."""
        loop = asyncio.get_running_loop()
        remaining = self.started + seconds - loop.time()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settled.wait(), remaining)
        return loop.time() - self.started

    async def stop(self) -> None:
        """Stop consuming (the connection itself is closed by the caller)."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, AmiError):
            await self._task


async def _read_line_from_config(
    conn: AmiConnection, username: str
) -> tuple[UserReadLine | None, str]:
    """The user's ``read =`` line via GetConfig, with where it was found; or None and why."""
    previous = conn.permission_error
    found: list[str] = []
    categories = []
    try:
        for filename in _MANAGER_FILES:
            try:
                headers = await conn.send_action({"Action": "GetConfig", "Filename": filename})
            except AmiPermissionError:
                return None, "manager.conf is not readable: GetConfig needs write=system or config"
            except AmiError:
                continue  # no such file (plain Asterisk has no manager_custom.conf)
            found.append(filename)
            categories.extend(parse_getconfig(headers))
            # GetConfig follows #include: a user found in manager.conf is complete.
            if user_read_line(categories, username) is not None:
                break
    finally:
        conn.permission_error = previous  # a refused probe is not a problem of the link
    line = user_read_line(categories, username)
    if line is None:
        where = ", ".join(found) or "no manager file readable"
        return None, f"no [{username}] section in {where} (users.conf or realtime?)"
    return line, " + ".join(found)


def _lacks(username: str, missing: list[str]) -> str:
    return f"AMI user {username!r} lacks read class {', '.join(missing)}"


def _from_config(
    line: UserReadLine, where: str, username: str, label: str, hook_loaded: bool
) -> CheckResult:
    shown = "no read line" if line.value is None else f"read = {line.value}"
    source = f"[{username}] in {where} (read with GetConfig): {shown}"
    missing = [name for name in TRACKER_CLASSES if name not in line.classes]
    if not missing:
        return CheckResult(label, True, f"{source}; grants {', '.join(TRACKER_CLASSES)}")
    lines = [_lacks(username, missing), *(f"{n}: {_CLASS_USE[n]}" for n in missing), source]
    if line.value is not None and " " in line.value:
        lines[-1] += " (Asterisk matches class names exactly: remove the spaces)"
    ok, warn = _severity(missing, hook_loaded)
    return CheckResult(label, ok, "\n".join(lines), _classes_fix(username), warn)


def _from_events(
    verdicts: list[ClassVerdict],
    watched: float,
    username: str,
    label: str,
    hook_loaded: bool,
    why: str,
) -> CheckResult:
    def named(verdict: Verdict) -> list[str]:
        return [v.name for v in verdicts if v.verdict is verdict]

    missing, unseen = named(Verdict.MISSING), named(Verdict.NOT_SEEN)
    received = named(Verdict.GRANTED)
    verify = "place a test call during `check --watch 60` to verify"
    # Only the dialplan hook sends UserEvents: without it no test call can show `user`.
    hookless = ["user"] if "user" in unseen and not hook_loaded else []
    unseen = [name for name in unseen if name not in hookless]
    if missing:
        lines = [_lacks(username, missing)]
    elif unseen:
        lines = [f"not seen in {watched:.1f} s of events: {', '.join(unseen)}: {verify}"]
    elif not hookless:
        lines = [f"events of every class needed arrived ({', '.join(received)})"]
    else:
        lines = [f"events arrived for {', '.join(received) or 'none of the classes'}"]
    lines += [
        f"{v.name} ({_CLASS_USE[v.name]}): {v.evidence} (unless an eventfilter drops them)"
        for v in verdicts
        if v.verdict is Verdict.MISSING
    ]
    if missing or unseen:
        lines.append(f"received in {watched:.1f} s: {', '.join(received) or 'none of them'}")
    if missing and unseen:
        lines.append(f"not seen (an idle PBX proves nothing): {', '.join(unseen)}: {verify}")
    if hookless:
        lines.append(
            "user: only the dialplan hook sends its events, and it is not loaded: no test "
            "call can show it; grant read=user when you install the hook (dialplan/README.md)"
        )
    lines.append(f"(judged from events: {why})")
    ok, warn = _severity(missing, hook_loaded)
    fix = _classes_fix(username) if missing else ""
    return CheckResult(label, ok, "\n".join(lines), fix, warn or bool(unseen))


async def read_classes(
    conn: AmiConnection,
    watch: ClassWatch,
    pbx: PbxSettings,
    label: str,
    seconds: float,
    hook_loaded: bool,
) -> CheckResult:
    """The read classes the tracker needs: from manager.conf if readable, else from events."""
    try:
        line, where = await _read_line_from_config(conn, pbx.username)
        if line is not None:
            return _from_config(line, where, pbx.username, label, hook_loaded)
        watched = await watch.wait(seconds)
        verdicts = watch.observer.verdicts()
        return _from_events(verdicts, watched, pbx.username, label, hook_loaded, where)
    finally:
        await watch.stop()
