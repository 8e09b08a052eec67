"""``asterisk-textback check`` and ``send-test``: tell the admin exactly what is wrong."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp

from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.calls.contexts import ContextMatcher
from asterisk_textback.config import PbxSettings
from asterisk_textback.errors import AmiError, ProviderError, TextbackError
from asterisk_textback.loading import Loaded
from asterisk_textback.policy import parse_caller
from asterisk_textback.service import database_url
from asterisk_textback.sms.base import OutboundSms, Provider, SendResult
from asterisk_textback.sms.registry import Resources, build_provider
from asterisk_textback.store import check_schema, create_engine


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the report: what was checked, whether it passed, and the fix if not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


async def _database(loaded: Loaded, env: Mapping[str, str]) -> CheckResult:
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


_HOOK_CONTEXT = "textback-hangup"
_WITH_CALLBACKS = frozenset({"twilio", "signalwire", "telnyx", "plivo", "vonage", "bandwidth"})


async def _dialplan(conn: AmiConnection, loaded: Loaded, label: str) -> CheckResult:
    """The trunk contexts of ``[tracker]`` exist; whether the optional hook is loaded."""
    try:
        contexts = await conn.dialplan_contexts()
    except AmiError as exc:
        return CheckResult(label, False, str(exc), "give the AMI user write=reporting")
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


def _webhooks(loaded: Loaded) -> CheckResult:
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


async def run_checks(loaded: Loaded, environ: Mapping[str, str] | None = None) -> list[CheckResult]:
    """Every check, in order; a failing check does not stop the later ones."""
    env = os.environ if environ is None else environ
    results = [CheckResult("config", True, "textback.toml is valid; templates render")]
    results.append(await _database(loaded, env))
    pbxes = loaded.settings.all_pbxes
    conns = [AmiConnection(pbx, environ=env) for pbx in pbxes]
    try:
        for pbx, conn in zip(pbxes, conns, strict=True):
            label = "ami" if len(pbxes) == 1 else f"ami {pbx.name}"
            results.append(ami := await _ami(conn, pbx, label))
            if ami.ok:
                results.append(await _dialplan(conn, loaded, label.replace("ami", "dialplan")))
        async with aiohttp.ClientSession() as http:
            provider = build_provider(loaded.settings.provider, Resources(http, env, conns[0]))
            results.append(await _provider(provider))
        results.append(_webhooks(loaded))
    finally:
        for conn in conns:
            await conn.close()
    return results


def format_results(results: list[CheckResult]) -> str:
    """A pass/fail list with the fix under each failure."""
    lines = []
    for r in results:
        lines.append(f"[{'PASS' if r.ok else 'FAIL'}] {r.name}: {r.detail}")
        if not r.ok and r.fix:
            lines.append(f"       fix: {r.fix}")
    return "\n".join(lines)


async def send_test(
    loaded: Loaded, number: str, text: str, environ: Mapping[str, str] | None = None
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
