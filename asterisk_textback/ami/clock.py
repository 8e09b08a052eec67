"""Which clock an AMI event's time comes from: the PBX's ``Timestamp``, or ours.

A PBX whose clock is hours behind made every call look too old to text; one minutes ahead
delayed every text by as much. The PBX's ``Timestamp`` is kept only while it agrees with the
moment we read the event (within ``pbx.max_clock_skew``) and is a finite number, and it is
never later than that moment: expiry, quiet hours and send times follow this server's clock.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asterisk_textback.ami.connection import AmiConnection

__all__ = ["NTP_FIX", "PbxClock", "finite_seconds", "measure_offset", "skew_detail"]

log = logging.getLogger(__name__)

#: What to do about a PBX clock that is off (shown by ``check`` and in the log).
NTP_FIX = (
    "set the PBX's clock from NTP (on the PBX: timedatectl set-ntp true, or chrony; "
    "FreePBX: System Admin > Time Zone/NTP)"
)


def finite_seconds(raw: str) -> float | None:
    """``raw`` as epoch seconds, or None if it is not a finite number ("nan", "inf", junk)."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def skew_detail(name: str, offset: float) -> str:
    """``PBX default's clock is 7200 s behind this server's`` (or ahead)."""
    way = "ahead of" if offset > 0 else "behind"
    return f"PBX {name}'s clock is {abs(offset):.0f} s {way} this server's"


class PbxClock:
    """Turns an event's ``Timestamp`` and the moment it was read into a trusted time."""

    __slots__ = ("_bad_logged", "_skew_logged", "distrusted", "max_skew", "name", "offset")

    def __init__(self, max_skew: float, name: str = "default") -> None:
        self.max_skew = max_skew
        self.name = name
        #: The last PBX-minus-local offset seen (seconds), None before any timestamped event.
        self.offset: float | None = None
        #: Events whose ``Timestamp`` was replaced by the local time.
        self.distrusted = 0
        self._skew_logged = False
        self._bad_logged = False

    def event_time(self, raw: str | None, received_at: float) -> float:
        """The time of an event read at ``received_at`` whose ``Timestamp`` header is ``raw``."""
        if raw is None:
            return received_at
        ts = finite_seconds(raw)
        if ts is None:
            self.distrusted += 1
            if not self._bad_logged:
                self._bad_logged = True
                log.warning(
                    "PBX %s sent a Timestamp that is not a finite number (%.40r): using this "
                    "server's clock for such events",
                    self.name,
                    raw,
                )
            return received_at
        offset = self.offset = ts - received_at
        if abs(offset) > self.max_skew:
            self.distrusted += 1
            if not self._skew_logged:
                self._skew_logged = True
                log.warning(
                    "%s (more than pbx.max_clock_skew %g s): call times come from this "
                    "server's clock; %s",
                    skew_detail(self.name, offset),
                    self.max_skew,
                    NTP_FIX,
                )
            return received_at
        # An event cannot happen after we read it: a PBX slightly ahead must not delay texts.
        return min(ts, received_at)


async def measure_offset(conn: AmiConnection) -> float | None:
    """PBX minus local clock from a ``Ping`` (Asterisk answers with its ``Timestamp``).

    None when the reply carries no usable ``Timestamp`` (very old Asterisk).
    """
    before = time.time()
    reply = await conn.send_action({"Action": "Ping"})
    after = time.time()
    pbx = finite_seconds(reply.get("Timestamp", ""))
    return None if pbx is None else pbx - (before + after) / 2
