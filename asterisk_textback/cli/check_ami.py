"""``check``'s AMI lines: one login attempt per PBX, and why it failed in words.

``check`` makes ONE connection attempt per PBX (``retry=False``, bounded by the PBX's
``connect_timeout``), so a PBX that is down is one FAIL line saying why (refused, timeout,
TLS, not an AMI port, login refused) and what to look at, not a stream of reconnect warnings.
Without the AMI secret it only reads the greeting: a login with a made-up secret would be a
failed login in the PBX's security log (and fail2ban's).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from asterisk_textback.ami.clock import NTP_FIX, measure_offset, skew_detail
from asterisk_textback.ami.connection import AmiConnection
from asterisk_textback.ami.protocol import client_ssl_context
from asterisk_textback.ami.reasons import (
    connect_failure,
    in_phase,
    login_fix,
    not_ami,
    tls_verify_fix,
)
from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.cli.check_report import CheckResult
from asterisk_textback.errors import (
    AmiConnectError,
    AmiError,
    AmiLoginError,
    AmiPermissionError,
)

_BANNER = b"Asterisk Call Manager/"
_PERMISSION_FIX = (
    "give the AMI user write = system (or reporting) in manager.conf: CoreShowChannels "
    "needs one of them; then asterisk -rx 'manager reload'"
)


def _limit(pbx: PbxSettings) -> float:
    """How long one attempt may take: connect, greeting and login each within the timeout."""
    return pbx.connect_timeout * 3 + 1


async def login(conn: AmiConnection, pbx: PbxSettings, label: str) -> CheckResult:
    """One login on ``conn`` (made with ``retry=False``), and a first action on it."""
    where = f"{pbx.host}:{pbx.port}"
    try:
        async with asyncio.timeout(_limit(pbx)):
            await conn.start()
            await conn.wait_ready()
        alive = await conn.core_show_channels()
    except AmiConnectError as exc:
        return CheckResult(label, False, f"no AMI login: {exc}", f"look at {exc.look_at}")
    except AmiLoginError as exc:
        return CheckResult(label, False, str(exc), f"look at {login_fix(pbx)}")
    except AmiPermissionError as exc:
        return CheckResult(label, False, str(exc), _PERMISSION_FIX)
    except TimeoutError:
        why = f"no AMI login at {where} within {_limit(pbx):g} s"
        return CheckResult(label, False, why, f"look at {login_fix(pbx)}")
    except AmiError as exc:
        return CheckResult(label, False, f"AMI at {where}: {exc}", f"look at {login_fix(pbx)}")
    return CheckResult(
        label,
        True,
        f"logged in to {where} as {pbx.username} (AMI {conn.version}); {len(alive)} channel(s) up",
    )


async def greeting(pbx: PbxSettings) -> str:
    """The AMI banner of ``pbx``, without logging in; AmiConnectError says why not."""
    ctx = client_ssl_context(pbx)
    try:
        async with asyncio.timeout(pbx.connect_timeout):
            reader, writer = await asyncio.open_connection(
                pbx.host, pbx.port, ssl=ctx, server_hostname=pbx.host if ctx else None
            )
    except ssl.SSLCertVerificationError as exc:
        why = f"TLS certificate of AMI {pbx.host}:{pbx.port} does not verify: {exc.verify_message}"
        raise AmiConnectError(why, tls_verify_fix(pbx)) from None
    except (OSError, TimeoutError) as exc:
        raise connect_failure(exc, pbx, "connect") from None
    try:
        line = await in_phase(asyncio.wait_for(reader.readline(), pbx.connect_timeout), pbx)
    except ValueError:  # a long line without a newline: not a greeting
        line = b""
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    if not line.startswith(_BANNER):
        raise not_ami(pbx)
    return line.decode("utf-8", "replace").strip()


async def reach_only(pbx: PbxSettings, label: str, unset: list[str]) -> CheckResult:
    """Without its secret: whether the PBX's AMI answers at all (login not tried)."""
    why = f"login not tried: {', '.join(unset)} not set (see environment)"
    try:
        banner = await greeting(pbx)
    except AmiConnectError as exc:
        return CheckResult(label, False, f"no AMI: {exc}", f"look at {exc.look_at}")
    detail = f"{banner} answers at {pbx.host}:{pbx.port}; {why}"
    return CheckResult(label, True, detail, skipped=True)


async def clock(conn: AmiConnection, pbx: PbxSettings, label: str) -> CheckResult:
    """The PBX's clock against ours (Ping's Timestamp)."""
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
