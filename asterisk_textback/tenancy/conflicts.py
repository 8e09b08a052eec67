"""What two tenants of one install may not share: a sender number, an AGI port, a PBX's calls.

A STOP texted to a number must reach one tenant's consent list; one AGI port is one
listener; two tenants following the same PBX link with nothing to tell their calls apart
would both record (and text back) every call. The tenant loaded later is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from asterisk_textback.config import Settings

__all__ = ["Conflict", "find_conflict", "sender_numbers"]


@dataclass(frozen=True, slots=True)
class Conflict:
    """The key of the later tenant that clashes, and the words saying with whom."""

    key: str
    message: str


def _number(value: str) -> str:
    """A sender as compared: ``+1 (212) 555-0147`` and ``12125550147`` are one number."""
    kept = "".join(ch for ch in value if ch not in " -().")
    return kept.lstrip("+").lower()


def sender_numbers(settings: Settings) -> Iterator[tuple[str, str]]:
    """``(key, number)`` of every number this tenant texts from (and receives STOPs on)."""
    provider = settings.provider
    if provider.default_sender.strip():
        yield "provider.default_sender", provider.default_sender
    for did, sender in provider.senders.items():
        if sender.strip():
            yield f"provider.senders.{did}", sender


def _link(host: str, port: int, username: str) -> tuple[str, int, str]:
    return host.strip().lower(), port, username


def _senders(tenant: Settings, other_id: str, other: Settings) -> Conflict | None:
    taken = {_number(number) for _, number in sender_numbers(other)}
    for key, number in sender_numbers(tenant):
        if _number(number) in taken:
            return Conflict(
                key,
                f"{key}: {number} is already a sender number of tenant {other_id!r} (a STOP "
                "to a number must belong to one tenant; give this tenant its own number)",
            )
    return None


def _agi(tenant: Settings, other_id: str, other: Settings) -> Conflict | None:
    if tenant.agi.enabled and other.agi.enabled and tenant.agi.port == other.agi.port != 0:
        return Conflict(
            "agi.port",
            f"agi.port: {tenant.agi.port} is already tenant {other_id!r}'s AGI port (give "
            "this tenant another port, or set agi.enabled = false)",
        )
    return None


def _calls(tenant: Settings, other_id: str, other: Settings) -> Conflict | None:
    """Both follow one PBX link and would record the same calls."""
    theirs = {_link(p.host, p.port, p.username) for p in other.all_pbxes}
    ours = [p for p in tenant.all_pbxes if _link(p.host, p.port, p.username) in theirs]
    if not ours:
        return None
    mine, their_dids = set(tenant.tenant.dids), set(other.tenant.dids)
    if mine and their_dids:
        shared = sorted(mine & their_dids)
        if not shared:
            return None
        return Conflict(
            "tenant.dids",
            f"tenant.dids: {shared[0]} is already a DID of tenant {other_id!r} on the same "
            f"PBX link ({ours[0].host}:{ours[0].port}); a call belongs to one tenant",
        )
    if mine or their_dids:
        return None
    contexts = set(tenant.tracker.trunk_contexts) & set(other.tracker.trunk_contexts)
    if not contexts:
        return None
    index = tenant.all_pbxes.index(ours[0])
    key = "pbx" if index == 0 else f"pbxes[{index - 1}]"
    return Conflict(
        key,
        f"{key}: the PBX link {ours[0].host}:{ours[0].port} (user {ours[0].username!r}) "
        f"is already tenant {other_id!r}'s, with the same tracker.trunk_contexts "
        f"({', '.join(sorted(contexts))}): both would record every call; give this tenant "
        "[tenant] dids, its own tracker.trunk_contexts, or its own PBX",
    )


def _token(tenant: Settings, other_id: str, other: Settings) -> Conflict | None:
    mine, theirs = tenant.web.dashboard.api_token_env, other.web.dashboard.api_token_env
    if mine is not None and mine == theirs:
        return Conflict(
            "web.dashboard.api_token_env",
            f"web.dashboard.api_token_env: {mine} is already tenant {other_id!r}'s API token "
            "(one token would open both tenants' data; name another variable)",
        )
    return None


def find_conflict(tenant: Settings, accepted: Sequence[tuple[str, Settings]]) -> Conflict | None:
    """The first thing ``tenant`` shares with a tenant already ``accepted`` (None: nothing)."""
    for other_id, other in accepted:
        for check in (_senders, _agi, _calls, _token):
            found = check(tenant, other_id, other)
            if found is not None:
                return found
    return None
