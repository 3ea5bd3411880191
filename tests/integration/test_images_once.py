"""Images, once, end to end: a seller's feed and photos on a counting loopback host ->
the worker (Ray actors, Milvus Lite, tantivy, Redis) with QC on a loopback Gemini -> the
API's thumbnail route over HTTP.

- A product whose photo is a GIF goes live (it was dead-lettered by the embed stage).
- A sync downloads each image exactly once: embed, QC and thumbnails read the stored bytes.
- A seller who swaps the photo behind the same URL after QC changes nothing that was
  embedded, checked or shown; the next sync downloads it once, sees new bytes, and only
  then is the new photo checked and shown.

Each test syncs a seller of its own, so each passes alone and in any order.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
from PIL import Image

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.images import ImageLimits, shrink_encode
from pipeline.records import ProductRecord
from pipeline.runtime import Runtime
from pipeline.search_setup import EmbedderQueryEncoder
from pipeline.settings import Settings
from pipeline.syncs import start_sync, sync_view
from pipeline.worker import BackgroundWorker
from serve.app import build_deps, create_api
from serve.deps import ApiDeps
from serve.web.imaging import ThumbFormat, make_thumbnail
from tests.appserver import ThreadedUvicorn
from tests.qc.fake_gemini import FakeGemini, image_parts
from tests.sellerhost import SellerHost

pytestmark = pytest.mark.slow

REDIS_DB = 5  # a database of its own: other modules flush database 0


def photo(colour: tuple[int, int, int], fmt: str, size: tuple[int, int] = (120, 90)) -> bytes:
    buf = io.BytesIO()
    image = Image.new("RGB", size, colour)
    image.paste((255, 255, 255), (10, 10, 50, 40))  # some structure, not a flat field
    if fmt == "GIF":
        frames = [image.convert("P"), Image.new("RGB", size, (0, 0, 0)).convert("P")]
        frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=80)
    else:
        image.save(buf, fmt)
    return buf.getvalue()


@dataclass
class World:
    host: SellerHost
    gemini: FakeGemini
    settings: Settings
    deps: ApiDeps
    http: httpx.Client

    def sync(self, seller: str, feed_url: str, timeout: float = 240) -> dict[str, Any]:
        started = start_sync(self.deps.ledger, self.deps.redis, seller, feed_url, source="feed")
        deadline = time.monotonic() + timeout
        view: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            view = sync_view(self.deps.ledger, self.deps.redis, started.sync_id)
            assert view is not None
            if view["state"] in ("completed", "completed_with_errors", "failed"):
                return view
            time.sleep(0.25)
        raise AssertionError(f"sync of {seller} not finished in {timeout} s: {view}")

    def thumbnail(self, product_id: str, size: int = 320) -> httpx.Response:
        return self.http.get(
            f"/v1/thumbnails/{product_id}", params={"size": size, "format": "jpeg"}
        )

    def images_sent_to_qc(self) -> list[str]:
        """The photos QC sent to Gemini, as the wire carries them (unpadded base64url)."""
        return [part["data"] for seen in self.gemini.seen for part in image_parts(seen)]


def wire(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def world(
    ray_session: object, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[World]:
    url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    host = SellerHost().start()
    gemini = FakeGemini().start()
    settings = Settings.defaults().with_overrides(
        core={"data_dir": tmp_path_factory.mktemp("images-once")},
        redis={"url": url},
        siglip={"model": "tiny", "cpus_per_replica": 0.5},
        jobs={"timeout": 60, "backoff_base": 0.2},
        gemini={"api_key": gemini.api_key, "base_url": gemini.url, "timeout": 10},
        api={"rate_limit_per_minute": 1_000_000},
        catalog={"allowed_hosts": (host.netloc,)},
    )
    worker = BackgroundWorker(settings).start()
    embedder = LocalSiglipEmbedder.from_settings(settings)
    deps = build_deps(settings, EmbedderQueryEncoder(embedder), Runtime(settings))
    deps.closers.append(embedder.aclose)
    server = ThreadedUvicorn(create_api(deps)).start()
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        yield World(host, gemini, settings, deps, http)
    server.stop()
    worker.stop()
    gemini.stop()
    host.stop()


def _feed(world: World, seller: str, images: dict[str, list[str]]) -> str:
    rows = [
        {"id": rid, "title": f"Handmade {rid} ceramic mug", "price": "12.50 USD",
         "image_link": urls[0], "additional_image_link": ",".join(urls[1:])}
        for rid, urls in images.items()
    ]  # fmt: skip
    return world.host.feed(f"/{seller}/feed.json", rows)


def test_a_gif_product_goes_live_and_each_image_is_downloaded_once(world: World) -> None:
    seller, limits = "gifshop", ImageLimits.from_settings(world.settings.catalog)
    gif, jpeg, png = (
        photo((20, 90, 200), "GIF"),
        photo((200, 60, 20), "JPEG"),
        photo((30, 160, 60), "PNG"),
    )
    host = world.host
    images = {
        "gif-mug": [host.serve(f"/{seller}/mug.gif", gif, "image/gif")],
        "jpeg-mug": [host.serve(f"/{seller}/mug.jpg", jpeg), host.serve(f"/{seller}/b.png", png)],
        # The same photo listed by two products is still one download.
        "twin-mug": [host.url(f"/{seller}/mug.jpg")],
    }
    view = world.sync(seller, _feed(world, seller, images))
    assert view["state"] == "completed", view
    assert view["products"]["live"] == 3, view["products"]
    assert world.deps.ledger.dlq_list(seller_id=seller) == []
    gif_pid = ProductRecord.make_id(seller, "gif-mug")
    stored = world.deps.products.get(gif_pid)
    assert stored is not None and stored.live
    assert stored.record.image_hashes == (hashlib.sha256(gif).hexdigest(),)
    # QC (Gemini) was sent the stored GIF's first frame, re-encoded by us.
    assert wire(shrink_encode(gif, limits, world.settings.gemini.max_image_side)) in (
        world.images_sent_to_qc()
    )

    for rid in images:
        pid = ProductRecord.make_id(seller, rid)
        assert world.thumbnail(pid).status_code == 200
    assert world.http.get(f"/v1/thumbnails/{ProductRecord.make_id(seller, 'jpeg-mug')}",
                          params={"size": 160, "i": 1}).status_code == 200  # fmt: skip
    # Scrape, embed, QC and five thumbnails later: one request per image, no more.
    assert host.image_hits() == {f"/{seller}/mug.gif": 1, f"/{seller}/mug.jpg": 1,
                                 f"/{seller}/b.png": 1}  # fmt: skip


def test_a_photo_swapped_after_qc_is_not_shown_until_the_next_sync_checks_it(
    world: World,
) -> None:
    seller, limits = "swapshop", ImageLimits.from_settings(world.settings.catalog)
    checked, swapped = photo((220, 200, 40), "JPEG"), photo((10, 10, 10), "JPEG", (300, 200))
    path = f"/{seller}/vase.jpg"
    feed = _feed(world, seller, {"vase": [world.host.serve(path, checked)]})
    assert world.sync(seller, feed)["state"] == "completed"
    pid = ProductRecord.make_id(seller, "vase")
    sent_before = len(world.images_sent_to_qc())
    row_before = world.deps.vectors.fetch([pid])[0]

    world.host.serve(path, swapped)  # the seller replaces the photo behind the same URL
    shown = world.thumbnail(pid)
    assert shown.status_code == 200
    assert shown.content == make_thumbnail(checked, 320, ThumbFormat.JPEG, limits)
    assert world.host.hits(path) == 1  # nothing went back to the seller's host

    # The next sync downloads it once, to compare: new bytes, a new version, checked anew.
    assert world.sync(seller, feed)["state"] == "completed"
    assert world.host.hits(path) == 2
    stored = world.deps.products.get(pid)
    assert stored is not None and stored.live
    assert stored.record.image_hashes == (hashlib.sha256(swapped).hexdigest(),)
    sent = world.images_sent_to_qc()[sent_before:]
    assert sent == [wire(shrink_encode(swapped, limits, world.settings.gemini.max_image_side))]
    assert world.deps.vectors.fetch([pid])[0].content_hash != row_before.content_hash
    shown = world.thumbnail(pid)
    assert shown.content == make_thumbnail(swapped, 320, ThumbFormat.JPEG, limits)
    assert world.host.hits(path) == 2
