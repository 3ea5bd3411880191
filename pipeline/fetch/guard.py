"""The SSRF guard: which URLs we may fetch, decided on the address we will connect to.

URLs come from strangers. A host is classified after every spelling is undone: IPv4 in
decimal, hex, octal or short form (``2130706433``, ``0x7f.1``, ``0177.0.0.1``), IPv6 with
IPv4 inside it (mapped ``::ffff:a.b.c.d``, compatible, 6to4, Teredo, NAT64), percent-encoded
or full-width characters, trailing dots. DNS names are resolved and *every* address they
resolve to must be public, so a name pointing at ``10.0.0.1`` is refused like the literal.
The caller then connects to the address checked here (see :class:`CheckedURL`), which
leaves no window for DNS rebinding between the check and the connection.

Allow-listed ``host[:port]`` entries (``CATALOG_ALLOWED_HOSTS``) are the only way to
reach a private address: the sample site on loopback in tests, an internal feed server.
An entry naming an address allows that address only, never the other addresses of a name
that also resolves to it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from pipeline.errors import BackendUnavailable, UnsafeURLError
from pipeline.settings import split_host_port

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 4096
DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_HOST_CHARS = re.compile(r"^[a-z0-9._\-]+$")


def _inet_aton_part(part: str) -> int:
    """One dotted part as ``inet_aton`` reads it: ``0x`` hex, leading-zero octal, else decimal."""
    if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
        return int(part[2:] or "0", 16)
    if re.fullmatch(r"0[0-7]+", part):
        return int(part, 8)
    if re.fullmatch(r"0|[1-9][0-9]*", part):
        return int(part, 10)
    raise ValueError(part)


def parse_legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a resolver (``inet_aton``) would read in ``host``, or None.

    Browsers and libc accept 1 to 4 parts, each decimal, hex or octal, the last part
    filling the remaining bytes: ``127.1``, ``2130706433``, ``0x7f.0.0.1`` are 127.0.0.1.
    """
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or any(p == "" for p in parts):
        return None
    try:
        values = [_inet_aton_part(p) for p in parts]
    except ValueError:
        return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    number = number * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(number)


def normalize_host(raw: str) -> str:
    """Lower-cased ASCII host with percent-escapes, full-width forms and trailing dots undone.

    Raises UnsafeURLError for a host that is empty or not a valid name after that.
    """
    host = unquote(raw).strip().lower()
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    host = host.rstrip(".")
    if not host:
        raise UnsafeURLError(f"URL host {raw!r} is empty")
    if not host.isascii():
        try:
            # IDNA nameprep maps full-width digits and dots to ASCII, as browsers do.
            host = host.encode("idna").decode("ascii").lower().rstrip(".")
        except UnicodeError as exc:
            raise UnsafeURLError(f"URL host {raw!r} is not a valid domain name") from exc
    if ":" not in host and not _HOST_CHARS.match(host):
        raise UnsafeURLError(f"URL host {raw!r} has characters a domain name cannot have")
    return host


def ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells (any IPv4 or IPv6 spelling), or None for a DNS name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if "%" in host:  # an IPv6 zone id: fe80::1%eth0
        try:
            return ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return None
    return parse_legacy_ipv4(host)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and routes to, if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    packed = ip.packed
    if packed[:12] == bytes(12) and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed[12:])
    return None


def is_public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast: not private, loopback, link-local,
    multicast, reserved, unspecified, shared (CGNAT), documentation or benchmark space."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        inner = embedded_ipv4(ip)
        if inner is not None and not is_public_address(inner):
            return False
    return bool(
        ip.is_global
        and not ip.is_multicast
        and not ip.is_reserved
        and not ip.is_unspecified
        and not ip.is_loopback
        and not ip.is_link_local
        and not ip.is_private
    )


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the guard, and the address to connect to for it."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress
    allow_listed: bool
    addresses: tuple[IPAddress, ...] = ()  # every checked address, ``address`` first

    @property
    def connect_host(self) -> str:
        """The host to put in the request URL: the canonical address for an IP literal
        (whatever spelling was written), else the normalized name."""
        literal = ip_literal(self.host)
        return str(literal).split("%", 1)[0] if literal is not None else self.host

    @property
    def host_key(self) -> str:
        """``host:port``: the unit of per-host concurrency and rate limits."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class SplitURL:
    url: str
    scheme: str
    host: str
    port: int


def split_url(url: str) -> SplitURL:
    """Syntactic checks only: http(s), a host, no credentials, a sane length and port.

    Raises UnsafeURLError naming the rule the URL breaks.
    """
    if not isinstance(url, str) or not url.strip():
        raise UnsafeURLError("URL is empty")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURLError(f"URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x20 or c == "\x7f" for c in url):
        raise UnsafeURLError("URL contains control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURLError(f"malformed URL {url[:200]!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeURLError(f"only http and https URLs are fetched, got {scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURLError("URLs with credentials (user@host) are refused")
    if not parts.hostname:
        raise UnsafeURLError(f"URL {url[:200]!r} has no host")
    # urlsplit lower-cases and strips brackets; read the raw netloc for what was written.
    raw_host = parts.netloc.rpartition("@")[2]
    if raw_host.startswith("["):
        raw_host = raw_host[: raw_host.index("]") + 1] if "]" in raw_host else raw_host
    else:
        raw_host = raw_host.rsplit(":", 1)[0] if raw_host.count(":") == 1 else raw_host
    host = normalize_host(raw_host)
    return SplitURL(url, scheme, host, port if port is not None else DEFAULT_PORTS[scheme])


class UrlGuard:
    """Decides whether a URL may be fetched and which address to connect to.

    ``allowed_hosts`` holds ``host`` or ``host:port`` entries (host names or addresses);
    a matching URL may reach a private address. Everything else must resolve only to
    public addresses.
    """

    def __init__(self, allowed_hosts: Iterable[str] = (), *, dns_timeout: float = 5.0) -> None:
        self._allowed: list[tuple[str, int | None]] = []
        for entry in allowed_hosts:
            host, port = split_host_port(entry.strip().lower())
            literal = ip_literal(host)
            self._allowed.append((str(literal) if literal else host, port))
        self._dns_timeout = dns_timeout

    def is_allow_listed(self, host: str, port: int, address: IPAddress | None = None) -> bool:
        """True when ``host`` (as written) or ``address`` (what it resolved to) is listed."""
        names = {host}
        literal = ip_literal(host)
        if literal is not None:
            names.add(str(literal))
        if address is not None:
            names.add(str(address))
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                names.add(str(address.ipv4_mapped))
        return any(h in names and (p is None or p == port) for h, p in self._allowed)

    async def check(self, url: str) -> CheckedURL:
        """Resolve and classify ``url``.

        Raises UnsafeURLError for a refused URL (bad syntax or scheme, a private address
        not allow-listed, a name that does not resolve) and BackendUnavailable when DNS
        itself fails for now.
        """
        split = split_url(url)
        literal = ip_literal(split.host)
        addresses = [literal] if literal is not None else await self._resolve(split)
        # The decision is made per address: a name resolving to one allow-listed address
        # and one other private address is refused (its other address would be tried too).
        # Only an entry naming the host itself vouches for all of its addresses.
        name_listed = self.is_allow_listed(split.host, split.port)
        allow = name_listed
        for address in addresses:
            if name_listed or self.is_allow_listed(split.host, split.port, address):
                allow = True
                continue
            if not is_public_address(address):
                logger.info("refused %s: %s resolves to %s", url[:200], split.host, address)
                raise UnsafeURLError(
                    f"refused {split.host!r}: it resolves to non-public address {address} "
                    "(private, loopback, link-local, multicast or reserved) and is not in "
                    "CATALOG_ALLOWED_HOSTS"
                )
        return CheckedURL(
            split.url, split.scheme, split.host, split.port, addresses[0], allow, tuple(addresses)
        )

    async def _resolve(self, split: SplitURL) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(split.host, split.port, type=socket.SOCK_STREAM),
                self._dns_timeout,
            )
        except TimeoutError as exc:
            raise BackendUnavailable(f"DNS lookup of {split.host!r} timed out") from exc
        except socket.gaierror as exc:
            if exc.errno == socket.EAI_AGAIN:
                raise BackendUnavailable(f"DNS lookup of {split.host!r} failed: {exc}") from exc
            raise UnsafeURLError(f"host {split.host!r} does not resolve: {exc}") from exc
        addresses: list[IPAddress] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise UnsafeURLError(f"host {split.host!r} resolves to no address")
        return addresses
