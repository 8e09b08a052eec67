"""``asterisk-textback check`` and ``send-test``: tell the admin exactly what is wrong."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp

from asterisk_textback.ami.clock import NTP_FIX, measure_offset, skew_detail
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
from asterisk_textback.app.service import database_url
from asterisk_textback.calls.contexts import ContextMatcher
from asterisk_textback.errors import AmiError, AmiPermissionError, ProviderError, TextbackError
from asterisk_textback.policy.numbers import parse_caller
from asterisk_textback.sms.base import OutboundSms, Provider, SendResult
from asterisk_textback.sms.registry import Resources, build_provider
from asterisk_textback.store.engine import create_engine
from asterisk_textback.store.schema import check_schema
from asterisk_textback.textback.loading import PreparedConfig

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


async def _database(loaded: PreparedConfig, env: Mapping[str, str]) -> CheckResult:
    url = database_url(loaded, env)
    engine = create_engine(url)
    try:
        await check_schema(engine)
    except TextbackError as exc:
        return CheckResult("database", False, str(exc), "asterisk-textback db upgrade -c FILE")
    except Exception as exc:  # unreachable server, bad URL…
        return CheckResult("database", False, repr(exc), "check database.url")
    finally:
        await engine.dispose()
    return CheckResult("database", True, f"schema up to date ({loaded.settings.database.url})")


async def _ami(conn: AmiConnection, pbx: PbxSettings, label: str) -> CheckResult:
    try:
        async with asyncio.timeout(pbx.connect_timeout * 2):
            await conn.start()
            await conn.wait_ready()
        alive = await conn.core_show_channels()
    except TimeoutError:
        return CheckResult(
            label, False, f"no AMI login at {pbx.host}:{pbx.port}", "check pbx.host/pbx.port"
        )
    except AmiError as exc:
        return CheckResult(label, False, str(exc), "see dialplan/manager_custom.conf")
    return CheckResult(
        label,
        True,
        f"logged in to {pbx.host}:{pbx.port} as {pbx.username} "
        f"(AMI {conn.version}); {len(alive)} channel(s) up",
    )


async def _clock(conn: AmiConnection, pbx: PbxSettings, label: str) -> CheckResult:
    try:
        offset = await measure_offset(conn)
    except AmiError as exc:
        return CheckResult(label, True, f"not measured: {exc}", warn=True)
    if offset is None:
        return CheckResult(label, True, "the PBX's Ping reply has no Timestamp", warn=True)
    detail = skew_detail(pbx.name, offset)
    if abs(offset) <= pbx.max_clock_skew:
        return CheckResult(label, True, f"{detail} (pbx.max_clock_skew {pbx.max_clock_skew:g})")
    why = f"{detail}: call times come from this server's clock instead"
    return CheckResult(label, True, why, NTP_FIX, warn=True)


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


class _ClassWatch:
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


async def _read_classes(
    conn: AmiConnection,
    watch: _ClassWatch,
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


_HOOK_CONTEXT = "textback-hangup"
_WITH_CALLBACKS = frozenset({"twilio", "signalwire", "telnyx", "plivo", "vonage", "bandwidth"})


async def _dialplan(
    conn: AmiConnection, loaded: PreparedConfig, label: str
) -> tuple[CheckResult, bool]:
    """The trunk contexts of ``[tracker]`` exist; whether the optional hook is loaded."""
    try:
        contexts = await conn.dialplan_contexts()
    except AmiError as exc:
        fix = "give the AMI user write=reporting (or config): ShowDialPlan needs one of them"
        return CheckResult(label, False, str(exc), fix), False
    return _contexts(contexts, loaded, label), _HOOK_CONTEXT in contexts


def _contexts(contexts: frozenset[str], loaded: PreparedConfig, label: str) -> CheckResult:
    """The trunk contexts of ``[tracker]`` among the loaded ones."""
    patterns = loaded.settings.tracker.trunk_contexts
    trunks = sorted(c for c in contexts if ContextMatcher(patterns)(c))
    if not trunks:
        return CheckResult(
            label,
            False,
            f"no loaded context matches tracker.trunk_contexts {list(patterns)}",
            "set tracker.trunk_contexts to your trunk's context (pjsip.conf context=)",
        )
    hook = "loaded" if _HOOK_CONTEXT in contexts else "not loaded (optional: dialplan/README.md)"
    return CheckResult(label, True, f"trunk contexts {', '.join(trunks[:5])}; hook {hook}")


def _webhooks(loaded: PreparedConfig) -> CheckResult:
    """Providers that call back need the public URL their signatures are computed over."""
    settings = loaded.settings
    name = settings.provider.name
    if name not in _WITH_CALLBACKS:
        return CheckResult("webhooks", True, f"{name}: no provider callbacks")
    base = settings.web.webhooks.public_base_url
    if base is None or not settings.web.enabled:
        return CheckResult(
            "webhooks",
            False,
            f"{name} delivery reports, replies and STOP need a public webhook URL",
            "set [web.webhooks] public_base_url (behind your TLS proxy) and keep web enabled",
        )
    return CheckResult("webhooks", True, f"set {base}/webhooks/{name} in the {name} console")


async def _provider(provider: Provider) -> CheckResult:
    verify: Callable[[], Awaitable[str]] | None = getattr(provider, "verify", None)
    if verify is None:
        return CheckResult("provider", True, f"{provider.name}: nothing to verify")
    try:
        return CheckResult("provider", True, f"{provider.name}: {await verify()}")
    except ProviderError as exc:
        return CheckResult("provider", False, f"{provider.name}: {exc}", "check [provider]")


async def run_checks(
    loaded: PreparedConfig,
    environ: Mapping[str, str] | None = None,
    *,
    watch: float = DEFAULT_WATCH,
) -> list[CheckResult]:
    """Every check, in order; a failing check does not stop the later ones.

    ``watch``: at most this many seconds of AMI events per PBX are examined for the read
    classes when the AMI user may not read manager.conf (GetConfig).
    """
    env = os.environ if environ is None else environ
    results = [CheckResult("config", True, "textback.toml is valid; templates render")]
    results.append(await _database(loaded, env))
    pbxes = loaded.settings.all_pbxes
    # Every event counts as evidence of its class, even those the tracker skips.
    conns = [AmiConnection(pbx, environ=env, skip_events=frozenset()) for pbx in pbxes]
    try:
        for pbx, conn in zip(pbxes, conns, strict=True):
            label = "ami" if len(pbxes) == 1 else f"ami {pbx.name}"
            results.append(ami := await _ami(conn, pbx, label))
            if ami.ok:
                results.append(await _clock(conn, pbx, label.replace("ami", "pbx clock")))
                # Start watching at once: the events of the dialplan check's time count too.
                events = _ClassWatch(conn)
                dialplan, hook = await _dialplan(conn, loaded, label.replace("ami", "dialplan"))
                classes = label.replace("ami", "ami classes")
                results.append(await _read_classes(conn, events, pbx, classes, watch, hook))
                results.append(dialplan)
        async with aiohttp.ClientSession() as http:
            provider = build_provider(loaded.settings.provider, Resources(http, env, conns[0]))
            results.append(await _provider(provider))
        results.append(_webhooks(loaded))
    finally:
        for conn in conns:
            await conn.close()
    return results


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


async def send_test(
    loaded: PreparedConfig, number: str, text: str, environ: Mapping[str, str] | None = None
) -> SendResult:
    """Send one real text through the configured provider (not through the outbox)."""
    env = os.environ if environ is None else environ
    settings = loaded.settings
    caller = parse_caller(number, settings.business.default_region)
    if caller.e164 is None:
        raise TextbackError(f"{number!r} is not a valid phone number ({caller.kind})")
    # Only the SIP trunk adapter sends over AMI; the others must not need the PBX.
    conn = (
        AmiConnection(settings.pbx, environ=env) if settings.provider.name == "sip_trunk" else None
    )
    try:
        if conn is not None:
            await conn.start()
            async with asyncio.timeout(settings.pbx.connect_timeout * 2):
                await conn.wait_ready()
        async with aiohttp.ClientSession() as http:
            provider = build_provider(settings.provider, Resources(http, env, conn))
            sms = OutboundSms(
                message_id=0,
                idempotency_key=f"send-test:{caller.e164}:{int(time.time())}",
                to=caller.e164,
                sender=settings.provider.default_sender,
                body=text,
            )
            return await provider.send(sms)
    finally:
        if conn is not None:
            await conn.close()
