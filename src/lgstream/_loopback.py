"""Is an address on loopback? One answer for the CLI's ``serve`` and the test
suite's network guard."""

from __future__ import annotations

import ipaddress
from typing import Final

__all__ = ["is_loopback"]

_LOCAL_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(address: object) -> bool:
    """Whether a host (or a socket address tuple) is on this machine's loopback:
    ``localhost``, 127.0.0.0/8, ``::1`` (an IPv4-mapped one too). Host names are
    not resolved."""
    host = address[0] if isinstance(address, tuple) and address else address
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False  # a host name other than localhost: resolving it would tell nothing
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback
