"""The scrape keeps each verified image once; later readers get exactly those bytes.

Real HTTP on loopback (a counting, swappable seller host), the real SafeFetcher and feed
source, a directory image store.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from pipeline.blobs.directory import DirectoryBlobStore
from pipeline.errors import PermanentError
from pipeline.fetch import SafeFetcher
from pipeline.records import ProductRecord
from pipeline.settings import Settings
from pipeline.sources.base import SourceKind
from pipeline.sources.detect import CatalogSources
from pipeline.stored_images import StoredImages
from tests.sellerhost import SellerHost


def picture(colour: tuple[int, int, int], fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    image = Image.new("RGB", (40, 30), colour)
    if fmt == "GIF":
        image = image.convert("P")
    image.save(buf, fmt)
    return buf.getvalue()


RED, BLUE, GREEN = picture((200, 0, 0)), picture((0, 0, 200)), picture((0, 160, 0), "GIF")


@pytest.fixture
def host() -> Iterator[SellerHost]:
    running = SellerHost().start()
    yield running
    running.stop()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def record(urls: tuple[str, ...], hashes: tuple[str, ...] = ()) -> ProductRecord:
    return ProductRecord(
        product_id="s1:p1", seller_id="s1", name="Mug", image_urls=urls,
        image_hashes=hashes, source_url="http://127.0.0.1/",
    )  # fmt: skip


def test_the_scrape_keeps_each_image_once_and_records_its_hash(
    settings: Settings, host: SellerHost, tmp_path: Path
) -> None:
    red, gif = host.serve("/red.jpg", RED), host.serve("/green.gif", GREEN, "image/gif")
    host.serve("/blue.jpg", BLUE)
    feed = host.feed(
        "/feed.json",
        [
            {"id": "a", "title": "Red mug", "price": "5 USD", "image_link": red,
             "additional_image_link": host.url("/blue.jpg")},
            {"id": "b", "title": "Green mug", "price": "6 USD", "image_link": gif},
            {"id": "c", "title": "Red mug again", "price": "5 USD", "image_link": red},
            {"id": "d", "title": "Gone mug", "price": "5 USD", "image_link": host.url("/x.jpg")},
        ],
    )  # fmt: skip
    store = DirectoryBlobStore(tmp_path / "images")

    async def scrape() -> Any:
        async with SafeFetcher(settings.catalog, images=store) as fetcher:
            sources = CatalogSources(settings.catalog, fetcher=fetcher)
            return await sources.scrape(feed, "s1", SourceKind.FEED)

    result = run(scrape())
    by_name = {p.name: p for p in result.products}
    assert set(by_name) == {"Red mug", "Green mug", "Red mug again"}
    sha = {data: hashlib.sha256(data).hexdigest() for data in (RED, BLUE, GREEN)}
    assert by_name["Red mug"].image_hashes == (sha[RED], sha[BLUE])
    assert by_name["Green mug"].image_hashes == (sha[GREEN],)  # a GIF passes the scrape
    for data, digest in sha.items():
        assert store.get(digest) == data
    # One download per image URL, however many products show it.
    assert host.image_hits() == {"/red.jpg": 1, "/blue.jpg": 1, "/green.gif": 1, "/x.jpg": 1}
    [skipped] = result.skipped
    assert "404" in skipped.reason


def test_readers_get_the_checked_bytes_after_a_swap_without_asking_the_host(
    settings: Settings, host: SellerHost, tmp_path: Path
) -> None:
    store = DirectoryBlobStore(tmp_path / "images")
    url = host.serve("/photo.jpg", RED)
    product = record((url,), (store.put(RED),))
    host.serve("/photo.jpg", BLUE)  # the seller swaps the photo after QC

    async def read() -> bytes:
        async with SafeFetcher(settings.catalog, images=store) as fetcher:
            return await StoredImages(store, fetcher).read(product)

    assert run(read()) == RED and host.hits("/photo.jpg") == 0


def test_a_hash_missing_from_the_store_is_downloaded_and_must_match(
    settings: Settings, host: SellerHost, tmp_path: Path
) -> None:
    store = DirectoryBlobStore(tmp_path / "images")
    url = host.serve("/photo.jpg", RED)
    product = record((url,), (hashlib.sha256(RED).hexdigest(),))

    async def read() -> bytes:
        async with SafeFetcher(settings.catalog, images=store) as fetcher:
            return await StoredImages(store, fetcher).read(product)

    assert run(read()) == RED and store.has(product.image_hashes[0])  # stored for next time
    assert run(read()) == RED and host.hits("/photo.jpg") == 1
    store.path(product.image_hashes[0]).unlink()
    host.serve("/photo.jpg", BLUE)
    with pytest.raises(PermanentError, match="changed since it was checked"):
        run(read())


def test_a_record_without_hashes_is_downloaded_checked_and_stored(
    settings: Settings, host: SellerHost, tmp_path: Path
) -> None:
    store = DirectoryBlobStore(tmp_path / "images")
    gif = host.serve("/old.gif", GREEN, "image/gif")
    corrupt = host.serve("/bad.jpg", b"\xff\xd8\xff\xe0 not a jpeg")

    async def read(product: ProductRecord) -> bytes:
        async with SafeFetcher(settings.catalog, images=store) as fetcher:
            return await StoredImages(store, fetcher).read(product)

    assert run(read(record((gif,)))) == GREEN
    assert store.has(hashlib.sha256(GREEN).hexdigest())
    with pytest.raises(PermanentError, match="corrupt or truncated"):
        run(read(record((corrupt,))))
    with pytest.raises(PermanentError, match="not in the image store"):
        run(StoredImages(store, None).read(record((corrupt,))))


def test_a_record_holds_one_valid_hash_per_image() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    with pytest.raises(ValidationError, match="one hash per image"):
        record(("http://a/1.jpg", "http://a/2.jpg"), (digest,))
    with pytest.raises(ValidationError):
        record(("http://a/1.jpg",), ("../../etc/passwd",))
    same = record(("http://a/1.jpg",), (digest,))
    assert same.content_hash != record(("http://a/1.jpg",)).content_hash
