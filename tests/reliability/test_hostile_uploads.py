"""Photo uploads that cost more to decode than to send, over real HTTP.

A palette PNG of 6300x6300 pixels is a few KB on the wire and was decoded in full (1.9 s,
640 MB) because it fits the scrape's 40 MP budget. Uploads have a smaller one, checked
on the header; a client may have only a couple of decodes in flight.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from pipeline.settings import Settings
from serve.upload_images import UPLOAD_MAX_PIXELS, UPLOADS_PER_CLIENT
from tests.reliability.edge import Served, edge_settings, serve_api


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Served]:
    settings = edge_settings(
        Settings.defaults().with_overrides(
            core={"data_dir": tmp_path_factory.mktemp("edge-uploads")},
            redis={"url": redis_url},
            siglip={"model": "tiny"},
        ),
        rate_limit_per_minute=60_000,
    )
    with serve_api(settings) as running:
        yield running


def _png(width: int, height: int, mode: str = "P") -> bytes:
    image = Image.new(mode, (width, height))
    if mode == "P":  # stripes, so it is not one flat colour
        image.putpalette([v for i in range(256) for v in (i, 255 - i, (i * 7) % 256)])
        for x in range(0, width, 97):
            image.paste(x % 256, (x, 0, min(x + 40, width), height))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "JPEG", quality=80)
    return out.getvalue()


def _upload(base: str, data: bytes, name: str = "x.png") -> httpx.Response:
    with httpx.Client(base_url=base, timeout=60) as client:
        return client.post("/v1/search/image", files={"image": (name, data, "image/png")})


def test_a_small_palette_png_of_many_pixels_is_refused_on_its_header(served: Served) -> None:
    bomb = _png(6300, 6300)
    assert len(bomb) < 1_000_000 and 6300 * 6300 > UPLOAD_MAX_PIXELS
    started = time.perf_counter()
    resp = _upload(served.base, bomb)
    took = time.perf_counter() - started
    assert resp.status_code == 413, resp.text
    assert "6300x6300" in resp.json()["detail"]
    assert took < 10  # generous: a bound on a header check, not a benchmark


def test_an_ordinary_photo_is_still_searched(served: Served) -> None:
    resp = _upload(served.base, _jpeg(4000, 3000), "photo.jpg")
    assert resp.status_code == 200, resp.text
    palette = _upload(served.base, _png(3000, 3000))
    assert palette.status_code == 200, palette.text


def test_one_client_has_few_decodes_in_flight(served: Served) -> None:
    big = _png(4800, 4800, "RGBA")  # within the budget, and slow enough to overlap

    with ThreadPoolExecutor(8) as pool:
        statuses = [r.status_code for r in pool.map(lambda _: _upload(served.base, big), range(8))]
    assert statuses.count(200) >= UPLOADS_PER_CLIENT, statuses
    assert 429 in statuses, statuses
    assert set(statuses) <= {200, 429}, statuses
