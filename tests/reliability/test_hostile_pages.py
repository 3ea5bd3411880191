"""Hostile pages and images: bounded time and memory, and a clear reason per product.

A storefront page (schema.org JSON-LD) lists products whose images are a decompression
bomb, a JPEG with a corrupt header, 0 bytes, an SVG, a page that drips forever; the real
catalog sources scrape it in-process. Separately: a 50 MB page, an endless page and a page
with 100,000 products.
"""

from __future__ import annotations

import asyncio
import io
import json
import resource
import time
from collections.abc import Iterator

import pytest
from PIL import Image

from pipeline.errors import CatalogSyncError, PermanentError
from pipeline.fetch.fetcher import SafeFetcher
from pipeline.sample_site.images import product_jpeg
from pipeline.settings import Settings
from pipeline.sources.base import SourceKind
from pipeline.sources.detect import CatalogSources
from tests.sources.httpserver import Reply, TestServer


def _bomb_png() -> bytes:
    """20,000 x 20,000 one-bit pixels: a few KB on the wire, 400 M pixels decoded."""
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG", optimize=True)
    return out.getvalue()


def _corrupt_jpeg() -> bytes:
    good = bytearray(product_jpeg("corrupt"))
    good[2:40] = b"\x00" * 38  # the header's markers are gone
    return bytes(good)


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>x</script></svg>'

IMAGES = {
    "bomb": Reply(body=_bomb_png(), headers={"Content-Type": "image/png"}),
    "corrupt": Reply(body=_corrupt_jpeg(), headers={"Content-Type": "image/jpeg"}),
    "empty": Reply(body=b"", headers={"Content-Type": "image/jpeg"}),
    "svg": Reply(body=SVG, headers={"Content-Type": "image/svg+xml"}),
    "drip": Reply(body=b"\xff\xd8" + b"\x00" * 5000, drip_delay=0.05),
    "good": Reply(body=product_jpeg("good"), headers={"Content-Type": "image/jpeg"}),
}


def _jsonld_page(products: list[dict[str, object]]) -> bytes:
    data = json.dumps({"@context": "https://schema.org", "@graph": products})
    return f'<html><head><script type="application/ld+json">{data}</script></head></html>'.encode()


def _product(sku: str, image: str) -> dict[str, object]:
    return {
        "@type": "Product",
        "sku": sku,
        "name": f"Product {sku}",
        "image": image,
        "offers": {"@type": "Offer", "price": "9.99", "priceCurrency": "USD"},
    }


@pytest.fixture(scope="module")
def server() -> Iterator[TestServer]:
    running = TestServer()
    for name, reply in IMAGES.items():
        running.route(f"/img/{name}", reply)
    shop = [_product(name, f"/img/{name}") for name in IMAGES]
    running.route("/shop", Reply(body=_jsonld_page(shop), headers={"Content-Type": "text/html"}))
    running.route(
        "/huge",
        Reply(body=b"<html>" + b"x" * (50 * 1024 * 1024), headers={"Content-Type": "text/html"}),
    )
    running.route("/endless", Reply(body=b"<html>" + b"<p>" * 100_000, drip_delay=0.01))
    many = [_product(f"m{i}", "/img/good") for i in range(100_000)]
    running.route("/many", Reply(body=_jsonld_page(many), headers={"Content-Type": "text/html"}))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def hostile_settings(settings: Settings, server: TestServer) -> Settings:
    return settings.with_overrides(
        catalog={
            "allowed_hosts": (f"127.0.0.1:{server.port}",),
            "fetch_timeout": 3,
            "per_host_rate": 1000.0,
            "max_products": 500,
        }
    )


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_each_bad_image_is_skipped_with_its_own_reason(
    hostile_settings: Settings, server: TestServer
) -> None:
    async def scrape() -> object:
        async with CatalogSources(hostile_settings.catalog) as sources:
            return await sources.scrape(server.url("/shop"), "hostile", SourceKind.STOREFRONT)

    started = time.monotonic()
    result = asyncio.run(scrape())
    took = time.monotonic() - started
    assert took < 30
    assert [p.retailer_id for p in result.products] == ["good"]  # type: ignore[attr-defined]
    reasons = [s.reason for s in result.skipped]  # type: ignore[attr-defined]
    assert len(reasons) == 5, reasons
    for name in ("bomb", "corrupt", "empty", "svg", "drip"):
        [reason] = [r for r in reasons if f"/img/{name}" in r]
        assert len(reason) > len(server.url(f"/img/{name}")) + 10, reason  # says why
    [bomb] = [r for r in reasons if "/img/bomb" in r]
    assert "pixel" in bomb.lower() or "bomb" in bomb.lower(), bomb


@pytest.mark.parametrize(
    ("path", "limit_s"),
    [("/huge", 20.0), ("/endless", 12.0)],
)
def test_oversize_and_endless_pages_are_cut_in_bounded_time_and_memory(
    hostile_settings: Settings, server: TestServer, path: str, limit_s: float
) -> None:
    async def fetch() -> None:
        fetcher = SafeFetcher(hostile_settings.catalog)
        try:
            await fetcher.fetch(server.url(path))
        finally:
            await fetcher.aclose()

    before = _rss_mb()
    started = time.monotonic()
    with pytest.raises(CatalogSyncError) as caught:
        asyncio.run(fetch())
    assert time.monotonic() - started < limit_s
    assert _rss_mb() - before < 60, "the page was held in memory"
    assert str(caught.value)


def test_a_page_with_100000_products_stops_at_the_limit(
    hostile_settings: Settings, server: TestServer
) -> None:
    settings = hostile_settings.with_overrides(
        catalog={"verify_images": False, "max_page_bytes": 64 * 1024 * 1024}
    )

    async def scrape() -> object:
        async with CatalogSources(settings.catalog) as sources:
            return await sources.scrape(server.url("/many"), "many", SourceKind.STOREFRONT)

    started = time.monotonic()
    try:
        result = asyncio.run(scrape())
    except PermanentError as exc:  # refused whole, with the reason, is also bounded
        assert str(exc)
    else:
        assert len(result.products) <= 500  # type: ignore[attr-defined]
    assert time.monotonic() - started < 60
