"""Canary listeners: loopback ports that are not allow-listed and must hear nothing.

A hostile catalog tries to reach them (redirects, form posts, WebRTC); each canary
records every connection and datagram it gets, so a test asserts on silence.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Self

from tests.loopback import LoopbackHTTPServer


class Canary:
    """A socket bound to ``host:port`` (0: a free port) whose thread keeps everything
    that arrives in ``received``; a context manager that closes it."""

    def __init__(self, kind: socket.SocketKind, host: str, port: int) -> None:
        self._sock = socket.socket(socket.AF_INET, kind)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.settimeout(0.2)  # so the thread sees the stop flag
        self.host = host
        self.port = int(self._sock.getsockname()[1])
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _start(self) -> None:
        self._thread.start()

    def _receive(self) -> bytes:
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                self.received.append(self._receive())
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TcpCanary(Canary):
    """Accepts TCP connections and keeps what each one sent (answering a short 200)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(socket.SOCK_STREAM, host, port)
        self._sock.listen(16)
        self._start()

    def _receive(self) -> bytes:
        conn, _ = self._sock.accept()
        conn.settimeout(0.5)
        data = b""
        try:
            data = conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ncanary")
        except OSError:
            pass
        finally:
            conn.close()
        return data or b"<connected>"


class UdpCanary(Canary):
    """Records every datagram (STUN binding requests, for one)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(socket.SOCK_DGRAM, host, 0)
        self._start()

    def _receive(self) -> bytes:
        data, _ = self._sock.recvfrom(65536)
        return data


class Endless:
    """Serves a 40 MB page without a length, 64 KB at a time, counting what it got out:
    a client that stops reading at its limit keeps ``sent`` near that limit."""

    def __init__(self) -> None:
        self.sent = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                block = b"<p>" + b"x" * 65533
                try:
                    for _ in range(640):  # 40 MB
                        self.wfile.write(block)
                        outer.sent += len(block)
                except OSError:
                    pass

        self.server = LoopbackHTTPServer(Handler).start()

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/big"


@contextmanager
def endless_server() -> Iterator[Endless]:
    running = Endless()
    try:
        yield running
    finally:
        running.server.stop()
