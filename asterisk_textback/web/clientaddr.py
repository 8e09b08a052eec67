"""The client's address behind a reverse proxy: the rightmost X-Forwarded-For hop not trusted.

A proxy *appends* the address it received the request from (nginx's
``$proxy_add_x_forwarded_for``, Apache's mod_proxy), so everything left of the last trusted
hop was written by the client and may be a lie. Walking from the right and skipping our own
proxies gives the first address nobody could forge. Without trusted proxies the header is
ignored: the socket's peer is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from asterisk_textback.web.networks import Networks

__all__ = ["client_address", "forwarded_client"]

#: Hops looked at, at most: a header of thousands of entries costs no more than this.
_MAX_HOPS = 32


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:port" as some proxies write it
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "1.2.3.4:port"
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Networks) -> bool:
    return any(address in network for network in trusted)


def forwarded_client(peer: str, header: Sequence[str], trusted: Networks) -> str:
    """The client for a connection from ``peer`` carrying the X-Forwarded-For ``header`` values."""
    peer_ip = _ip(peer)
    if peer_ip is None or not _trusted(peer_ip, trusted):
        return peer
    hops = [hop for value in header for hop in value.split(",")][-_MAX_HOPS:]
    client = str(peer_ip)
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:
            # Garbage where an address should be: the hop that wrote it is the client.
            return client
        client = str(address)
        if not _trusted(address, trusted):
            return client
    return client


def client_address(request: web.Request, trusted: Networks) -> str:
    """Who sent ``request``: the socket's peer, or behind ``trusted`` proxies the forwarded one."""
    peer = request.remote or "unknown"
    if not trusted:
        return peer
    return forwarded_client(peer, request.headers.getall("X-Forwarded-For", []), trusted)
