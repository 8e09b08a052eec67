"""The one exception tree of asterisk-textback.

::

    TextbackError
     ├── ConfigError            a setting is missing or wrong (names the key)
     ├── AmiError               anything on the Asterisk Manager Interface
     │    ├── AmiLoginError     the PBX refused our username/secret
     │    ├── AmiPermissionError the AMI user lacks a read/write class we need
     │    └── AmiProtocolError  a frame we cannot make sense of
     └── TraceError             a recorded AMI trace file cannot be read
"""

from __future__ import annotations


class TextbackError(Exception):
    """Root of every error raised on purpose by asterisk-textback."""


class ConfigError(TextbackError):
    """A configuration value is missing or invalid; the message names the key."""


class AmiError(TextbackError):
    """A failure talking to the Asterisk Manager Interface."""


class AmiLoginError(AmiError):
    """The PBX refused the AMI login (wrong username or secret, or host not permitted)."""


class AmiPermissionError(AmiError):
    """The AMI user lacks a read or write class that asterisk-textback needs."""


class AmiProtocolError(AmiError):
    """A frame on the AMI socket is malformed or too large."""


class TraceError(TextbackError):
    """A recorded AMI trace file is unreadable or malformed."""
