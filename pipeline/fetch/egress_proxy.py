"""The browser's only door to the network: a local forward proxy behind the URL guard.

Chromium resolves names and connects on its own, and Playwright's request routing does
not see redirect hops, WebRTC or anything below HTTP. So the scraper's Chromium is
launched with ``--proxy-server`` pointing here (loopback included, no bypass list) and
this proxy, run on the worker's event loop, decides every connection:

- plain ``http://`` requests (every hop of a redirect chain is a new request here): the
  URL is checked by :class:`UrlGuard`, the connection goes to the checked address
  (:class:`PinnedBackend`, as in the SafeFetcher), and the response is streamed back with
  the page limit counted as bytes arrive; over the limit the connection is cut, so the
  browser sees a broken response, never a truncated one that looks whole;
- ``CONNECT host:port`` (HTTPS, WSS): checked the same way, then a byte pipe to the
  checked address, with a byte cap per tunnel (TLS is opaque here: the cap is per tunnel,
  not per response) and an idle deadline;
- everything else (origin-form requests, ``Upgrade``, other schemes) is refused.

A refused request is answered ``403`` with the reason in ``X-Catalog-Sync-Refused`` (a
header upstream servers cannot set: it is stripped from their responses), so a
navigation that ends on a refusal reads as one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from dataclasses import dataclass

import httpx

from pipeline.errors import CatalogSyncError
from pipeline.fetch.fetcher import request_url
from pipeline.fetch.guard import CheckedURL, UrlGuard
from pipeline.fetch.limits import HostLimiter
from pipeline.fetch.pinning import PinnedBackend, PinnedTransport

logger = logging.getLogger(__name__)

REFUSED_HEADER = "X-Catalog-Sync-Refused"
MAX_HEAD_BYTES = 64 * 1024
# Headers that describe one connection, not the message: never forwarded either way.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        REFUSED_HEADER.lower(),
    }
)
_NO_BODY_STATUS = frozenset({204, 304})
_UNSAFE_TEXT = re.compile(r"[^\x20-\x7e]")


class _Refused(Exception):
    """A request the proxy will not forward; ``status`` is what the browser is told."""

    def __init__(self, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class _Head:
    method: str
    target: str
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class EgressProxy:
    """``url = await proxy.start()``; launch Chromium with ``proxy={"server": url}``.

    ``refused`` counts refusals by reason; ``requests`` counts forwarded requests and
    tunnels. ``tunnel_max_bytes`` defaults to ten pages.
    """

    def __init__(
        self,
        guard: UrlGuard,
        limiter: HostLimiter,
        *,
        max_bytes: int,
        timeout_s: float,
        tunnel_max_bytes: int | None = None,
        tunnel_idle_s: float = 60.0,
    ) -> None:
        self.guard = guard
        self.limiter = limiter
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.tunnel_max_bytes = tunnel_max_bytes or 10 * max_bytes
        self.tunnel_idle_s = max(tunnel_idle_s, timeout_s)
        self.refused: Counter[str] = Counter()
        self.requests = 0
        self._backend = PinnedBackend()
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        # trust_env=False: an environment proxy would connect for us and undo the pinning.
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout_s),
            transport=PinnedTransport(self._backend, limits, None),
        )
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the egress proxy is not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> str:
        """Listen on a free loopback port; returns the proxy's URL."""
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", 0, limit=MAX_HEAD_BYTES
            )
        return self.url

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        await self._client.aclose()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except Exception:  # one broken connection must not take the proxy down
            logger.exception("egress proxy connection failed")
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: requests in turn (keep-alive), or one CONNECT tunnel."""
        while True:
            try:
                async with asyncio.timeout(self.tunnel_idle_s):
                    raw = await reader.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError:
                await self._answer(writer, 431, "request head too large")
                return
            except asyncio.IncompleteReadError:
                return  # the browser closed an idle connection
            head = _parse_head(raw)
            if head is None:
                await self._answer(writer, 400, "malformed request")
                return
            if head.method == "CONNECT":
                await self._tunnel(head, reader, writer)
                return
            if not await self._forward(head, reader, writer):
                return

    async def _refuse(self, writer: asyncio.StreamWriter, target: str, exc: _Refused) -> None:
        reason = str(exc)
        logger.info("browser egress refused: %s (%s)", target[:200], reason[:300])
        self.refused[reason.split(":", 1)[0][:100]] += 1
        await self._answer(writer, exc.status, reason)

    async def _answer(self, writer: asyncio.StreamWriter, status: int, reason: str) -> None:
        text = _UNSAFE_TEXT.sub("?", reason)[:500]
        body = f"catalog-sync egress proxy: {text}\n".encode()
        writer.write(
            f"HTTP/1.1 {status} Refused\r\n{REFUSED_HEADER}: {text}\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode("latin-1")
            + body
        )
        await writer.drain()

    async def _check(self, url: str) -> CheckedURL:
        try:
            return await self.guard.check(url)
        except CatalogSyncError as exc:
            raise _Refused(str(exc)) from exc

    # Plain HTTP --------------------------------------------------------------------------

    async def _forward(
        self, head: _Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Forward one request; True when the client connection can carry another."""
        try:
            if not head.target.lower().startswith("http://"):
                raise _Refused(f"only absolute http:// URLs and CONNECT, got {head.target[:100]}")
            if head.get("upgrade") is not None:
                raise _Refused("protocol upgrades (websockets) are not allowed while scraping")
            checked = await self._check(head.target)
            body = await self._read_body(head, reader)
        except _Refused as exc:
            await self._refuse(writer, head.target, exc)
            return False
        headers = [(k, v) for k, v in head.headers if k.lower() not in _connection_headers(head)]
        self._backend.pin(checked)
        request = self._client.build_request(
            head.method, request_url(checked), headers=headers, content=body
        )
        self.requests += 1
        async with self.limiter.slot(checked.host_key):
            try:
                async with asyncio.timeout(self.timeout_s):
                    response = await self._client.send(request, stream=True)
            except (TimeoutError, httpx.TransportError) as exc:
                logger.info("browser egress to %s failed: %r", checked.url[:200], exc)
                await self._answer(writer, 502, f"upstream failed: {type(exc).__name__}")
                return False
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await self._relay(response, checked.url, head, writer)
            except (TimeoutError, httpx.HTTPError) as exc:
                # The head may be out already: only cutting the connection is left.
                logger.info("browser egress from %s broke: %r", checked.url[:200], exc)
                writer.transport.abort()
                return False
            finally:
                await response.aclose()

    async def _read_body(self, head: _Head, reader: asyncio.StreamReader) -> bytes:
        if (head.get("transfer-encoding") or "").strip().lower() == "chunked":
            return await _read_chunked(reader, self.max_bytes)
        declared = (head.get("content-length") or "0").strip()
        if not declared.isdigit():
            raise _Refused(f"bad Content-Length {declared[:20]!r}", 400)
        if int(declared) > self.max_bytes:
            raise _Refused(f"request body over the limit of {self.max_bytes} bytes", 413)
        return await reader.readexactly(int(declared)) if int(declared) else b""

    async def _relay(
        self, response: httpx.Response, url: str, head: _Head, writer: asyncio.StreamWriter
    ) -> bool:
        """Stream ``response`` to the browser as chunks; True when the connection is reusable."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            reason = f"response of {declared} bytes, over the limit of {self.max_bytes}"
            await self._refuse(writer, url, _Refused(reason))
            return False
        has_body = head.method != "HEAD" and response.status_code not in _NO_BODY_STATUS
        lines = [f"HTTP/1.1 {response.status_code} {_reason(response)}"]
        for key, value in response.headers.raw:
            name = key.decode("latin-1")
            if name.lower() not in _HOP_BY_HOP:
                lines.append(f"{name}: {value.decode('latin-1')}")
        if has_body:
            lines.append("Transfer-Encoding: chunked")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if has_body:
            size = 0
            # Raw bytes: the content encoding is left to the browser, and the limit counts
            # what crosses the wire, as it arrives.
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > self.max_bytes:
                    self.refused["over the page limit"] += 1
                    logger.info("browser egress cut %s at %d bytes", url[:200], size)
                    writer.transport.abort()  # no final chunk: the browser sees an error
                    return False
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return (head.get("connection") or "").lower() != "close"

    # CONNECT -----------------------------------------------------------------------------

    async def _tunnel(
        self, head: _Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            if not re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^\s/:@\[\]]+):\d{1,5}", head.target):
                raise _Refused(f"CONNECT target must be host:port, got {head.target[:100]}", 400)
            checked = await self._check(f"https://{head.target}/")
        except _Refused as exc:
            await self._refuse(writer, head.target, exc)
            return
        async with self.limiter.slot(checked.host_key):
            pass  # a token and a turn per tunnel; a kept-alive tunnel must not hold a slot
        upstream = await self._open(checked)
        if upstream is None:
            await self._answer(writer, 502, f"{checked.host_key} did not answer")
            return
        up_reader, up_writer = upstream
        self.requests += 1
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await writer.drain()
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, None),
                self._pipe(up_reader, writer, checked.host_key),
            )
        finally:
            up_writer.close()

    async def _open(
        self, checked: CheckedURL
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to the first checked address that answers (never a fresh lookup)."""
        for address in checked.addresses or (checked.address,):
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await asyncio.open_connection(str(address), checked.port)
            except (OSError, TimeoutError) as exc:
                logger.info("tunnel to %s (%s) failed: %r", checked.host_key, address, exc)
        return None

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, capped: str | None
    ) -> None:
        """Copy until EOF, an idle deadline or (downstream) the tunnel's byte cap."""
        size = 0
        try:
            while True:
                async with asyncio.timeout(self.tunnel_idle_s):
                    chunk = await source.read(65536)
                if not chunk:
                    break
                size += len(chunk)
                if capped is not None and size > self.tunnel_max_bytes:
                    self.refused["over the tunnel limit"] += 1
                    logger.info("tunnel to %s cut at %d bytes", capped, size)
                    break
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, TimeoutError):
            pass
        finally:
            sink.close()


def _parse_head(raw: bytes) -> _Head | None:
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        return None
    request_line, *lines = text[:-4].split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    headers: list[tuple[str, str]] = []
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return None
        headers.append((name, value.strip()))
    return _Head(parts[0].upper(), parts[1], headers)


def _connection_headers(head: _Head) -> frozenset[str]:
    """Hop-by-hop headers plus the ones the request's ``Connection`` header names."""
    named = {n.strip().lower() for n in (head.get("connection") or "").split(",") if n.strip()}
    return _HOP_BY_HOP | named


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            length = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise _Refused("malformed chunked request body", 400) from exc
        if length == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(chunks)
        size += length
        if size > limit:
            raise _Refused(f"request body over the limit of {limit} bytes", 413)
        chunks.append(await reader.readexactly(length))
        await reader.readexactly(2)


def _reason(response: httpx.Response) -> str:
    return _UNSAFE_TEXT.sub("", response.reason_phrase or "")[:100] or "-"
