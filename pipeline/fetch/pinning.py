"""Connections go to the address the guard checked, never to a fresh DNS answer.

httpx would resolve the host name again when it connects; a name whose DNS answer
changes between our check and that connection (DNS rebinding) would then reach a private
address. :class:`PinnedBackend` is the network layer under httpx: it connects only to
addresses pinned for ``host:port`` by the fetcher right after the guard checked them, and
refuses a host nobody pinned. The URL, ``Host`` header, TLS SNI and certificate check keep
the real host name, so HTTPS works as usual; pooled connections are keyed by host name,
so a kept-alive connection is always to an address checked for that name.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from pipeline.fetch.guard import CheckedURL

logger = logging.getLogger(__name__)

MAX_PINS = 10_000


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects ``host:port`` to its pinned addresses in order (the first that answers)."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._pins: dict[tuple[str, int], tuple[str, ...]] = {}

    def pin(self, checked: CheckedURL) -> None:
        key = (checked.connect_host.lower(), checked.port)
        self._pins.pop(key, None)
        self._pins[key] = tuple(str(a) for a in checked.addresses or (checked.address,))
        while len(self._pins) > MAX_PINS:
            self._pins.pop(next(iter(self._pins)))

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self._pins.get((host.strip("[]").lower(), port))
        if not addresses:
            raise httpcore.ConnectError(f"{host}:{port} was not checked by the URL guard")
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used for catalog fetches")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a :class:`PinnedBackend`; no proxies, no environment."""

    def __init__(
        self, backend: PinnedBackend, limits: httpx.Limits, ssl_context: ssl.SSLContext | None
    ) -> None:
        super().__init__(limits=limits, trust_env=False)
        # The pool httpx builds has no way to take a network backend: build the same one
        # with ours (httpx's default TLS context, HTTP/1.1).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
