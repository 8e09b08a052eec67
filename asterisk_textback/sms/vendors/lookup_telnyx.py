"""Telnyx number lookup's answer, read into a line type (can this number take texts?).

``GET /v2/number_lookup/{E164}?type=carrier`` (https://developers.telnyx.com/docs/identity/
number-lookup); the request itself goes through :class:`~.telnyx.TelnyxProvider`.
"""

from __future__ import annotations

from dataclasses import dataclass

from asterisk_textback.sms._http import Model

_ALIASES = {"fixed_line": "landline", "wireline": "landline", "wireless": "mobile"}
_NO_SMS = frozenset({"landline", "pager", "premium_rate", "shared_cost", "uan", "voicemail"})


@dataclass(frozen=True, slots=True)
class LineType:
    """What a number lookup says about one number."""

    number: str
    #: ``mobile``, ``landline``, ``voip``, ``toll_free``, … (Telnyx's type, snake_cased).
    line_type: str
    #: False for types that cannot take texts, None when the type does not tell.
    sms_capable: bool | None
    carrier: str | None = None


class Carrier(Model):
    """``carrier`` (``type``, ``name``) or ``portability`` (``line_type``) of a lookup."""

    type: str | None = None
    name: str | None = None
    line_type: str | None = None


class NumberRecord(Model):
    """A number lookup's ``data`` record (only the fields we read)."""

    carrier: Carrier | None = None
    portability: Carrier | None = None

    def line_type(self, number: str) -> LineType:
        """The record's line type, snake_cased, with Telnyx's aliases folded."""
        carrier, porting = self.carrier or Carrier(), self.portability or Carrier()
        raw = carrier.type or porting.line_type or "unknown"
        kind = raw.strip().lower().replace(" ", "_").replace("-", "_")
        kind = _ALIASES.get(kind, kind)
        capable = True if kind == "mobile" else (False if kind in _NO_SMS else None)
        return LineType(number, kind, capable, carrier.name)
