"""On a PBX shared by several tenants: only the inbound calls to a tenant's own DIDs."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from asterisk_textback.calls.model import CallEnded, Direction

__all__ = ["did_key", "for_dids"]

#: Trunks deliver a DID as +15551234567, 15551234567 or 5551234567: the last ten digits
#: are what they have in common (a shorter number is compared whole).
_DIGITS_COMPARED = 10


def did_key(number: str) -> str:
    """The digits of ``number`` two spellings of one DID share (its last ten)."""
    return "".join(ch for ch in number if ch.isdigit())[-_DIGITS_COMPARED:]


def for_dids(
    dids: Iterable[str], submit: Callable[[CallEnded], None]
) -> Callable[[CallEnded], None]:
    """``submit`` for inbound calls to one of ``dids`` and every other direction's calls.

    No DIDs: ``submit`` itself (the tenant's PBX, or its trunk contexts, are its own).
    """
    wanted = frozenset(did_key(did) for did in dids)
    if not wanted:
        return submit

    def ours(call: CallEnded) -> None:
        # An inbound call to another tenant's number is that tenant's to record and text.
        if call.direction is Direction.INBOUND and did_key(call.did) not in wanted:
            return
        submit(call)

    return ours
