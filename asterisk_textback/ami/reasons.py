"""Why no AMI session could be opened, in words, and what to look at for each reason.

Pure (no socket): :func:`connect_failure` turns what the connect, greeting or login phase
raised into an :class:`AmiConnectError` whose message says why (refused, timeout, TLS, not an
AMI port) and whose ``look_at`` names the places to check (Asterisk running, ``enabled =
yes``, bindaddr, the firewall, the TLS port). ``check`` prints both; ``run`` logs the message.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Awaitable
from typing import Literal, TypeVar

from asterisk_textback.ami.settings import PbxSettings
from asterisk_textback.errors import AmiConnectError

__all__ = ["Phase", "connect_failure", "in_phase", "login_fix", "not_ami", "tls_verify_fix"]

_T = TypeVar("_T")

#: Where the attempt stopped: opening the socket (and TLS), the banner, or the Login action.
Phase = Literal["connect", "greeting", "login"]

_UNREACHABLE = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN})


def _running(s: PbxSettings) -> str:
    return (
        "Asterisk running (systemctl status asterisk); `enabled = yes` and "
        f"`port = {s.port}` in [general] of /etc/asterisk/manager.conf"
    )


def _bind(s: PbxSettings) -> str:
    return (
        "bindaddr there (127.0.0.1 accepts this host only); a firewall between here and the "
        f"PBX (TCP {s.port}); pbx.host and pbx.port"
    )


def _tls_port(s: PbxSettings) -> str:
    if s.tls:
        return (
            "pbx.tls = true needs the TLS port (manager.conf: tlsenable = yes, tlsbindaddr, "
            "usually 5039); for the plain port (5038) set pbx.tls = false"
        )
    return "a TLS-only port (usually 5039) needs pbx.tls = true; the plain AMI port is 5038"


def _connect(exc: BaseException, s: PbxSettings, where: str) -> AmiConnectError:
    if isinstance(exc, ConnectionRefusedError):
        why = f"connection refused: nothing accepts connections on {where}"
        return AmiConnectError(why, f"{_running(s)}; {_bind(s)}")
    if isinstance(exc, socket.gaierror):
        why = f"host name {s.host!r} does not resolve ({exc.strerror or exc})"
        return AmiConnectError(why, "pbx.host (the PBX's name or IP address); this server's DNS")
    if isinstance(exc, ssl.SSLError):
        why = f"TLS handshake with {where} failed ({exc.reason or exc})"
        return AmiConnectError(why, _tls_port(s))
    if isinstance(exc, TimeoutError):
        why = f"no answer from {where} within {s.connect_timeout:g} s (timeout)"
        look = (
            f"a firewall dropping TCP {s.port} between here and the PBX; pbx.host is the "
            "PBX's address; bindaddr in /etc/asterisk/manager.conf; the PBX is up"
        )
        return AmiConnectError(why, look)
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        why = f"{where} cannot be reached ({exc.strerror})"
        return AmiConnectError(why, "pbx.host; the network route and firewall to the PBX")
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or repr(exc)
    return AmiConnectError(f"cannot connect to {where} ({text})", f"{_running(s)}; {_bind(s)}")


def connect_failure(exc: BaseException, s: PbxSettings, phase: Phase) -> AmiConnectError:
    """What ``exc``, raised in ``phase`` of connecting to ``s``, means for the operator."""
    where = f"{s.host}:{s.port}"
    if phase == "connect":
        return _connect(exc, s, where)
    if phase == "greeting":
        if isinstance(exc, TimeoutError):
            why = (
                f"{where} accepted the connection but sent no AMI greeting within "
                f"{s.connect_timeout:g} s: not an AMI port, or a TLS mismatch"
            )
        else:
            why = f"{where} closed the connection without an AMI greeting"
        return AmiConnectError(why, f"pbx.port is the AMI port; {_tls_port(s)}")
    if isinstance(exc, TimeoutError):
        why = f"{where} did not answer the Login action within {s.connect_timeout:g} s"
    else:
        why = f"{where} closed the connection at login"
    return AmiConnectError(why, login_fix(s))


async def in_phase(step: Awaitable[_T], s: PbxSettings, phase: Phase = "greeting") -> _T:
    """``await step``; a timeout or a lost connection becomes the phase's AmiConnectError."""
    try:
        return await step
    except (TimeoutError, ConnectionResetError) as exc:
        raise connect_failure(exc, s, phase) from None


def not_ami(s: PbxSettings) -> AmiConnectError:
    """The port answered, but not with the ``Asterisk Call Manager/…`` greeting."""
    why = f"{s.host}:{s.port} is not an AMI port (it did not greet like Asterisk Call Manager)"
    look = f"pbx.port = the port in [general] of /etc/asterisk/manager.conf; {_tls_port(s)}"
    return AmiConnectError(why, look)


def tls_verify_fix(s: PbxSettings) -> str:
    """What to check when the PBX's TLS certificate does not verify."""
    return (
        "pbx.tls_ca_file = the CA (or self-signed certificate) of the PBX's tlscertfile, and "
        f"pbx.host = a name in that certificate ({s.host!r} now); or pbx.tls_verify = false"
    )


def login_fix(s: PbxSettings) -> str:
    """What to check when the PBX refuses (or drops) our Login."""
    secret = f"the variable {s.secret_env}" if s.secret_env else "pbx.secret"
    return (
        f"the [{s.username}] section of /etc/asterisk/manager_custom.conf (FreePBX) or "
        f"manager.conf: its secret must equal {secret}, and its permit=/deny= lines must "
        "allow this server's address; then asterisk -rx 'manager reload'"
    )
