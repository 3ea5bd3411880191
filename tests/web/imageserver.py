"""A seller's image host for the thumbnail tests, counting every request it answers.

``/img/<key>.jpg`` is the sample site's drawn JPEG for ``key``; ``/corrupt.jpg`` is bytes
that claim to be a JPEG and are not; anything else is 404.
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any

from pipeline.sample_site.images import CORRUPT_JPEG, product_jpeg
from tests.loopback import LoopbackHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        with self.server.lock:
            self.server.hits[self.path] += 1
        if self.path.startswith("/img/") and self.path.endswith(".jpg"):
            self._send(200, product_jpeg(self.path[5:-4]))
        elif self.path == "/corrupt.jpg":
            self._send(200, CORRUPT_JPEG)
        else:
            self._send(404, b"gone", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str = "image/jpeg") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(LoopbackHTTPServer):
    hits: Counter[str]
    lock: threading.Lock


class CountingImageServer:
    def __init__(self) -> None:
        self._server = _Server(_Handler)
        self._server.hits = Counter()
        self._server.lock = threading.Lock()
        self.port = self._server.port

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"

    def hits(self, path: str) -> int:
        with self._server.lock:
            return self._server.hits[path]

    def total(self) -> int:
        with self._server.lock:
            return sum(self._server.hits.values())

    def start(self) -> CountingImageServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
