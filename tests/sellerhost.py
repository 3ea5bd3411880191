"""A seller's shop on loopback: a JSON product feed and its images, every request counted.

The test decides what each path serves (anything else is 404) and can swap an image's
bytes behind the same URL (a seller replacing the photo after QC). The image-once tests,
the blob store's and the thumbnail route's use it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        with self.server.lock:
            self.server.hits[self.path] += 1
            found = self.server.files.get(self.path)
        if found is None:
            self._send(404, b"gone", "text/plain")
        else:
            self._send(200, found[0], found[1])

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(LoopbackHTTPServer):
    files: dict[str, tuple[bytes, str]]
    hits: Counter[str]
    lock: threading.Lock


class SellerHost:
    def __init__(self) -> None:
        self._server = _Server(_Handler)
        self._server.files = {}
        self._server.hits = Counter()
        self._server.lock = threading.Lock()

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self._server.port}"

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"

    def serve(self, path: str, body: bytes, content_type: str = "image/jpeg") -> str:
        """Serve ``body`` at ``path`` (replacing what was there); returns its URL."""
        with self._server.lock:
            self._server.files[path] = (body, content_type)
        return self.url(path)

    def feed(self, path: str, products: list[dict[str, Any]]) -> str:
        return self.serve(path, json.dumps(products).encode(), "application/json")

    def hits(self, path: str) -> int:
        with self._server.lock:
            return self._server.hits[path]

    def total(self) -> int:
        """Requests answered, all paths together."""
        with self._server.lock:
            return sum(self._server.hits.values())

    def image_hits(self) -> dict[str, int]:
        """Requests per path for everything but feeds."""
        with self._server.lock:
            return {p: n for p, n in self._server.hits.items() if not p.endswith(".json")}

    def start(self) -> SellerHost:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
