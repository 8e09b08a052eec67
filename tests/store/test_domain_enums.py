"""Domain enums live with their domain: pure modules the store only imports."""

from __future__ import annotations

import subprocess
import sys

from asterisk_textback.bookings.status import BookingStatus
from asterisk_textback.crm.status import CrmEventStatus
from asterisk_textback.inbound.kinds import InboundKind
from asterisk_textback.outbox.status import MessageStatus
from asterisk_textback.policy.decision import Action
from asterisk_textback.store import models

PURE = (
    "asterisk_textback.outbox.status",
    "asterisk_textback.inbound.kinds",
    "asterisk_textback.bookings.status",
    "asterisk_textback.crm.status",
    "asterisk_textback.calls.utc",
)


def test_store_models_use_the_domain_enums() -> None:
    assert models.MessageStatus is MessageStatus
    assert models.InboundKind is InboundKind
    assert models.BookingStatus is BookingStatus
    assert models.CrmEventStatus is CrmEventStatus
    assert models.DecisionAction is Action


def test_domain_enums_load_no_database_code() -> None:
    probe = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in PURE)
        + "heavy = ('sqlalchemy', 'asterisk_textback.store')\n"
        + "bad = sorted(m for m in sys.modules if m.startswith(heavy))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
