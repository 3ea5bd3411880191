"""The API on real HTTP for the API-edge tests: uvicorn on loopback over real Redis, the
tiny model, and an admin key; plus a raw-socket client for what httpx will not send."""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.runtime import Runtime
from pipeline.search_setup import EmbedderQueryEncoder
from pipeline.settings import Settings
from serve.app import build_deps, create_api
from serve.deps import ApiDeps
from tests.appserver import ThreadedUvicorn

ADMIN = "admin-edge-key-0123456789abcdef"


@dataclass
class Served:
    base: str
    port: int
    deps: ApiDeps


@contextmanager
def serve_api(settings: Settings, *, proxy_headers: bool = True) -> Iterator[Served]:
    """The app of ``settings`` on a free loopback port. ``proxy_headers`` is uvicorn's own
    X-Forwarded-For handling (on, trusting loopback, unless told otherwise)."""
    embedder = LocalSiglipEmbedder.from_settings(settings)
    deps = build_deps(settings, EmbedderQueryEncoder(embedder), Runtime(settings))
    server = ThreadedUvicorn(create_api(deps), proxy_headers=proxy_headers).start()
    try:
        yield Served(server.base_url, server.port, deps)
    finally:
        server.stop()
        asyncio.run(embedder.aclose())


def edge_settings(base: Settings, **api: object) -> Settings:
    return base.with_overrides(api={"admin_key": ADMIN, **api})


@dataclass
class RawAnswer:
    status: int
    head: bytes
    sent: int  # body bytes written before the answer came (or the server hung up)


def send_slowly(
    port: int, head: bytes, chunks: Iterator[bytes], *, pause_s: float = 0.0, timeout: float = 30
) -> RawAnswer:
    """Write ``head`` then each chunk, and stop at the first byte of an answer (or when
    the server hangs up).

    What the server answers before the body is complete tells whether it counted the
    bytes as they arrived: a server that reads everything first answers after the end.
    """
    sent = 0
    reply = b""
    closed = False
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        for chunk in chunks:
            view = memoryview(chunk)
            while view and not (reply or closed) and time.monotonic() < deadline:
                readable, writable, _ = select.select([sock], [sock], [], 1.0)
                if readable:
                    got = _recv(sock)
                    reply += got
                    closed = not got
                elif writable:
                    try:
                        n = sock.send(view)
                    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                        n = 0
                    view = view[n:]
                    sent += n
            if reply or closed or time.monotonic() >= deadline:
                break
            if pause_s:
                time.sleep(pause_s)
        while not closed and b"\r\n\r\n" not in reply and time.monotonic() < deadline:
            if select.select([sock], [], [], 1.0)[0]:
                got = _recv(sock)
                reply += got
                closed = not got
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0
    return RawAnswer(status, reply.split(b"\r\n\r\n", 1)[0], sent)


def _recv(sock: socket.socket) -> bytes:
    """What the server sent; b"" when it hung up (a reset included)."""
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""
