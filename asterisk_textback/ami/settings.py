"""The ``[pbx]`` / ``[[pbxes]]`` sections: how to reach one Asterisk Manager Interface."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from asterisk_textback.errors import ConfigError

__all__ = ["PbxSettings"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PbxSettings(_Frozen):
    """How to reach the Asterisk Manager Interface of one PBX."""

    name: str = "default"
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "textback"
    secret: str = ""
    #: Name of an environment variable holding the secret (keeps it out of the file).
    secret_env: str | None = None
    tls: bool = False
    tls_verify: bool = True
    tls_ca_file: str | None = None
    connect_timeout: float = Field(default=5.0, gt=0)
    ping_interval: float = Field(default=10.0, gt=0)
    ping_timeout: float = Field(default=5.0, gt=0)
    reconnect_min: float = Field(default=0.5, gt=0)
    reconnect_max: float = Field(default=30.0, gt=0)
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024)
    #: An event's ``Timestamp`` further than this from our clock (or not a number) is
    #: replaced by the time we read it: a PBX clock that lies cannot age or delay texts.
    max_clock_skew: float = Field(default=60.0, gt=0, le=86_400)
    #: Catch-up after an AMI outage: the PBX's cdr_csv file (readable by this service)…
    cdr_csv: str | None = None
    #: …or an environment variable holding a read-only URL of FreePBX's ``asteriskcdrdb``
    #: (``mysql+pymysql://textback:…@127.0.0.1/asteriskcdrdb``).
    cdr_db_url_env: str | None = None
    #: With ``cdr_csv``: the ``cel_custom`` CSV (sample column order, or a header line), when
    #: CEL is logged: it tells who answered and why a call was missed better than CDR.
    cel_csv: str | None = None
    #: Zone of the CDR's local times (cdr_csv without usegmtime, asteriskcdrdb).
    cdr_timezone: str = "UTC"
    #: A call up across an AMI outage that no answer or hook report decides waits this long
    #: for its CDR row (cdr.conf batch mode writes late) before it is recorded ``unknown``.
    cdr_wait_seconds: float = Field(default=300.0, ge=0, le=86_400)

    def resolved_secret(self, environ: Mapping[str, str]) -> str:
        """The AMI secret, from ``secret_env`` when set, else ``secret``."""
        if self.secret_env:
            try:
                return environ[self.secret_env]
            except KeyError:
                raise ConfigError(
                    f"pbx.secret_env: environment variable {self.secret_env!r} is not set"
                ) from None
        return self.secret
