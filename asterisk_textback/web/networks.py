"""Trusted proxy networks as values: parsed from settings, checked by ``clientaddr``.

Pure (``ipaddress`` only), so that ``web/settings.py`` validates ``trusted_proxies`` without
importing aiohttp.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["Networks", "parse_networks"]

Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def parse_networks(values: Iterable[str]) -> Networks:
    """Addresses or CIDRs (``127.0.0.1``, ``10.0.0.0/8``, ``::1``); ValueError naming a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR network") from None
    return tuple(networks)
