"""Who is calling: the client address the rate limits and stream caps count by.

A forwarding header is only a claim, and anyone can make it. It is read only when the
TCP peer is one of ``API_TRUSTED_PROXIES`` (empty by default: no header is trusted); the
client is then the last hop that is not one of those proxies, as each proxy appends the
address it saw. Uvicorn, and Ray Serve's proxy which runs it, trust X-Forwarded-For from
loopback by default and replace the peer before we see it; ``catalog-sync serve`` and
``cluster.yaml`` switch that off (``FORWARDED_ALLOW_IPS=``). Where it is still on, a
peer that appears among the header's own hops was put there by that rewrite: such
requests share one bucket, so a forged header never buys a fresh one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UNVERIFIED = "forwarded-unverified"


class ClientAddresses:
    """Resolves the client address of a request against the trusted proxies."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies
        )

    def _is_trusted(self, host: str | None) -> bool:
        address = _address(host)
        return address is not None and any(address in net for net in self._trusted)

    def of(self, conn: HTTPConnection) -> str:
        """The client's address (normalised), or ``UNVERIFIED`` for a forwarded request
        whose peer was already rewritten by a server that trusts other proxies."""
        peer = conn.client.host if conn.client else "unknown"
        hops = [
            hop.strip()
            for value in conn.headers.getlist("x-forwarded-for")
            for hop in value.split(",")
            if hop.strip()
        ]
        if self._trusted and self._is_trusted(peer):
            for hop in reversed(hops):
                if not self._is_trusted(_strip_port(hop)):
                    address = _address(_strip_port(hop))
                    return str(address) if address is not None else UNVERIFIED
            return _normal(peer)  # no header, or every hop is one of our proxies
        if any(_strip_port(hop) == peer for hop in hops):
            return UNVERIFIED
        return _normal(peer)


def _strip_port(hop: str) -> str:
    """``1.2.3.4:567`` -> ``1.2.3.4``; ``[::1]:80`` -> ``::1``; anything else as it is."""
    if hop.startswith("["):
        return hop[1:].partition("]")[0]
    if hop.count(":") == 1:
        return hop.partition(":")[0]
    return hop


def _address(host: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not host or len(host) > 64:
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _normal(host: str) -> str:
    address = _address(host)
    return str(address) if address is not None else host[:64]
