"""The one exception tree of asterisk-textback.

::

    TextbackError
     ├── ConfigError            a setting is missing or wrong (names the key)
     ├── StartupError           ``run`` cannot start a part (names the problem and the fix)
     ├── AmiError               anything on the Asterisk Manager Interface
     │    ├── AmiConnectError   no AMI session: refused, timeout, TLS, not AMI (says why)
     │    ├── AmiLoginError     the PBX refused our username/secret
     │    ├── AmiPermissionError the AMI user lacks a read/write class we need
     │    ├── AmiActionError    the PBX answered an action with Error
     │    ├── AmiNotConnectedError  no logged-in connection to send an action on
     │    └── AmiProtocolError  a frame we cannot make sense of
     ├── TraceError             a recorded AMI trace file cannot be read
     ├── WebhookError           a provider callback we refuse
     │    ├── WebhookAuthError       forged, stale or replayed (401/403, nothing stored)
     │    └── WebhookPayloadError    not the shape the provider sends (400)
     └── ProviderError          an SMS provider refused or failed a send
          ├── ProviderTransientError     try again later (timeouts, 5xx, 429: retry_after)
          ├── ProviderNumberError        this number cannot get texts (invalid, landline)
          ├── ProviderOptedOutError      the recipient opted out at the carrier/provider
          ├── ProviderAuthError          credentials/sender registration wrong: pause sending
          └── ProviderOutcomeUnknownError the request may have arrived (timeout): never resend
"""

from __future__ import annotations

import errno
import os


class TextbackError(Exception):
    """Root of every error raised on purpose by asterisk-textback."""


class ConfigError(TextbackError):
    """A configuration value is missing or invalid; the message names the key."""


class StartupError(TextbackError):
    """A part of the service cannot start (port in use, database unreadable, AMI refused).

    Its message is the whole story for the operator, on one line: what failed and the fix.
    """


def listen_error(exc: OSError, section: str, host: str, port: int) -> StartupError:
    """A listener's bind error as one line naming the setting and the fix.

    ``section`` is ``web`` or ``agi``: "web.port 8088 is in use (Address already in use):
    stop the other program or set web.port".
    """
    # asyncio words a bind error at length; a resolver error has a negative errno.
    code = exc.errno or 0
    why = os.strerror(code) if code > 0 else exc.strerror or str(exc)
    off = f"(or {section}.enabled = false)"
    if code == errno.EADDRINUSE:
        return StartupError(
            f"{section}.port {port} is in use on {host} ({why}): stop the other program "
            f"or set {section}.port {off}"
        )
    if code == errno.EACCES:
        return StartupError(
            f"{section}.port {port} may not be used by this user ({why}): set {section}.port "
            f"to 1024 or above {off}"
        )
    return StartupError(
        f"{section} cannot listen on {host}:{port} ({why}): check {section}.host and "
        f"{section}.port {off}"
    )


class AmiError(TextbackError):
    """A failure talking to the Asterisk Manager Interface."""


class AmiConnectError(AmiError):
    """No AMI session could be opened; the message says why, ``look_at`` what to check.

    Connection refused, no answer in time, a TLS handshake that fails, or a port that does
    not greet like Asterisk AMI.
    """

    def __init__(self, message: str, look_at: str) -> None:
        super().__init__(message)
        self.look_at = look_at


class AmiLoginError(AmiError):
    """The PBX refused the AMI login (wrong username or secret, or host not permitted)."""


class AmiPermissionError(AmiError):
    """The AMI user lacks a read or write class that asterisk-textback needs."""


class AmiActionError(AmiError):
    """The PBX answered an action with ``Response: Error`` (it did not do it)."""


class AmiNotConnectedError(AmiError):
    """No logged-in AMI connection: the action was not sent."""


class AmiProtocolError(AmiError):
    """A frame on the AMI socket is malformed or too large."""


class TraceError(TextbackError):
    """A recorded AMI trace file is unreadable or malformed."""


class ProviderError(TextbackError):
    """An SMS provider refused or failed a send; subclasses say what to do about it."""


class ProviderTransientError(ProviderError):
    """Retry later; ``retry_after`` (seconds) when the provider said how long to wait."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderNumberError(ProviderError):
    """The number can never receive texts (invalid, landline, unreachable): mark the contact."""


class ProviderOptedOutError(ProviderError):
    """The recipient opted out at the provider or carrier: mark the contact opted out."""


class ProviderAuthError(ProviderError):
    """Credentials, account or sender registration are wrong: pause sending and alert."""


class ProviderOutcomeUnknownError(ProviderError):
    """The request may have reached the provider (timeout, connection cut mid-request).

    Sending again could text the caller twice, so the message is marked ``unknown``.
    """


class WebhookError(TextbackError):
    """A provider callback we refuse to act on."""


class WebhookAuthError(WebhookError):
    """The signature/credentials do not verify, or the request is stale or replayed."""


class WebhookPayloadError(WebhookError):
    """The callback is not in the shape the provider documents."""
