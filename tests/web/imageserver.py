"""A seller's image host for the thumbnail tests, counting every request it answers.

``/img/<key>.jpg`` is the sample site's drawn JPEG for ``key``; ``/corrupt.jpg`` is bytes
that claim to be a JPEG and are not; anything else is 404.
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pipeline.sample_site.images import CORRUPT_JPEG, product_jpeg


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hits: Counter[str]
    lock: threading.Lock


class CountingImageServer:
    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hits = Counter()
        self._server.lock = threading.Lock()
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
