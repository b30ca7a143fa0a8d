"""The address a request comes from, honouring reverse proxies we trust.

A request's peer is the TCP address that connected. Behind a reverse proxy
that is the proxy, and the client is named in ``X-Forwarded-For``, which
anyone can also send directly. So the header counts only while the hop
that handed it over is a trusted proxy (``TRUSTED_PROXIES``, empty by
default): walking the list from the right, the first hop that is not a
trusted proxy is the client. With no trusted proxies the header is ignored.

Uvicorn's own proxy-header handling (which trusts 127.0.0.1 by default) is
switched off where the server is configured, so the peer seen here is the
real one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# An address longer than this is not one; it is cut to bound the keys built from it.
MAX_ADDRESS_CHARS = 64


def parse_networks(raw: str) -> tuple[Network, ...]:
    """Comma-separated IPs or CIDRs; a bad entry raises ValueError naming it."""
    networks: list[Network] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR: {entry!r}") from None
    return tuple(networks)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in trusted)


def forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every hop named in the ``X-Forwarded-For`` headers, leftmost first."""
    hops: list[str] = []
    for name, value in headers:
        if name.lower() == b"x-forwarded-for":
            text = value.decode("latin-1")
            hops.extend(hop.strip() for hop in text.split(",") if hop.strip())
    return hops


def client_address(scope: Mapping[str, Any], trusted: Sequence[Network]) -> str | None:
    """The client's address of an ASGI HTTP or WebSocket ``scope``."""
    client = scope.get("client")
    peer = str(client[0]) if client else None
    if peer is None or not trusted or not _trusted(peer, trusted):
        return peer
    address = peer
    for hop in reversed(forwarded_for(scope.get("headers") or ())):
        address = hop[:MAX_ADDRESS_CHARS]
        if not _trusted(address, trusted):
            break
    return address
