"""Fixtures of the embedding tests: generated JPEGs served over loopback, the tiny model."""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from pipeline.embedding.models import LoadedSiglip, load_tiny
from pipeline.local.milvus import local_milvus
from pipeline.local.services import LocalService
from pipeline.vectors.milvus import MilvusVectorStore


def make_jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A small photo-like JPEG: smooth colour gradient plus noise, different per seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, w)[None, :, None] * rng.integers(-120, 120, 3)
    noise = rng.normal(0, 12, (h, w, 3))
    arr = np.clip(base + ramp + noise, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def make_bomb_png(side: int = 12_000) -> bytes:
    """A tiny file that decodes to side x side pixels (a decompression bomb)."""
    buf = io.BytesIO()
    Image.new("1", (side, side)).save(buf, "PNG")
    return buf.getvalue()


class ImageSite:
    """A loopback HTTP server: ``site.add(path, body)`` then GET ``site.url(path)``."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                site.hits += 1
                body = site.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, body: bytes) -> str:
        self.files[path] = body
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def image_site() -> Iterator[ImageSite]:
    site = ImageSite()
    yield site
    site.close()


@pytest.fixture(scope="session")
def tiny_model() -> LoadedSiglip:
    """The tiny model, loaded once (tests that move or wrap it must not change it)."""
    return load_tiny()


@pytest.fixture
def milvus_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusVectorStore]:
    """A Milvus Lite server of its own and an empty collection on it."""
    service: LocalService = local_milvus(tmp_path_factory.mktemp("stage-milvus"))
    service.ensure()
    store = MilvusVectorStore(
        f"http://127.0.0.1:{service.port}", collection=f"s_{uuid.uuid4().hex[:10]}", lite=True
    )
    yield store
    store.close()
    service.close()
