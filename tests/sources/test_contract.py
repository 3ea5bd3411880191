"""Every source reads the same sample seller into the same records."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.errors import PermanentError, UnsafeURLError
from pipeline.sample_site import SampleSite
from pipeline.settings import CatalogSettings
from pipeline.sources.base import ScrapeResult, SourceKind
from pipeline.sources.detect import CatalogSources, default_seller_id, detect_source

RAVI = "919876543210"


def fields(result: ScrapeResult) -> dict[str, tuple[object, ...]]:
    return {
        p.product_id: (
            p.name,
            p.description,
            p.price,
            p.currency,
            p.availability,
            p.image_urls,
            p.image_sha256,
            p.content_hash,
        )
        for p in result.products
    }


@pytest.mark.slow
def test_all_sources_produce_the_same_records(
    site: SampleSite, site_catalog: CatalogSettings
) -> None:
    base = site.base_url
    urls = {
        "whatsapp": f"{base}/c/{RAVI}",
        "graph": f"{base}/graph/v21.0/9{RAVI}/products",
        "storefront": f"{base}/shop/{RAVI}",
        "feed-csv": f"{base}/feed/{RAVI}.csv",
        "feed-tsv": f"{base}/feed/{RAVI}.tsv",
        "feed-jsonl": f"{base}/feed/{RAVI}.jsonl",
        "feed-json": f"{base}/feed/{RAVI}.json",
    }

    async def main() -> dict[str, ScrapeResult]:
        async with CatalogSources(site_catalog) as sources:
            return {name: await sources.scrape(url, "ravi") for name, url in urls.items()}

    results = asyncio.run(main())
    assert results["graph"].source == SourceKind.GRAPH
    assert results["whatsapp"].source == SourceKind.WHATSAPP
    reference = fields(results["feed-csv"])
    assert len(reference) == 15
    for name, result in results.items():
        assert fields(result) == reference, name
        assert [s.raw_name for s in result.skipped] == ["Brass diya lamp"], name
    # The catalogs that say who sells name the seller: the WhatsApp business name, the
    # shop's og:site_name.
    assert results["whatsapp"].seller_name == "Mumbai Crafts"
    assert results["storefront"].seller_name == "Mumbai Crafts"
    assert results["storefront"].shop_url == urls["storefront"]


def test_detection(site_catalog: CatalogSettings) -> None:
    detect = detect_source
    assert detect("https://wa.me/c/5511987654321", site_catalog) == SourceKind.WHATSAPP
    assert detect("https://graph.facebook.com/v21.0/123/products", site_catalog) == "graph"
    assert detect("https://shop.example.com/feeds/all.CSV", site_catalog) == SourceKind.FEED
    assert detect("https://shop.example.com/product/42", site_catalog) == SourceKind.STOREFRONT
    assert detect("123456", site_catalog, SourceKind.GRAPH) == SourceKind.GRAPH
    assert detect("https://x.example/any", site_catalog, SourceKind.FEED) == SourceKind.FEED
    with pytest.raises(PermanentError, match="wa.me/c/"):
        detect("https://wa.me/5511987654321", site_catalog)
    with pytest.raises(PermanentError, match="Graph API"):
        detect("https://www.instagram.com/someshop/", site_catalog)
    for bad in ("ftp://x.example/feed.csv", "not a url", "123456", "http://", ""):
        with pytest.raises(UnsafeURLError):
            detect(bad, site_catalog)
    assert default_seller_id("https://wa.me/c/+5511987654321", SourceKind.WHATSAPP) == (
        "5511987654321"
    )
    assert default_seller_id("123", SourceKind.GRAPH) == "catalog-123"


def test_a_page_without_products_is_a_permanent_error(
    site: SampleSite, site_catalog: CatalogSettings
) -> None:
    async def main() -> None:
        async with CatalogSources(site_catalog) as sources:
            with pytest.raises(PermanentError, match="no products"):
                await sources.scrape(f"{site.base_url}/", "s")
            with pytest.raises(PermanentError, match="404"):
                await sources.scrape(f"{site.base_url}/shop/000000000", "s")

    asyncio.run(main())


def test_products_past_the_limit_are_one_skipped_entry_never_a_silent_drop(
    site: SampleSite, site_catalog: CatalogSettings
) -> None:
    """CATALOG_MAX_PRODUCTS: a feed's rows past it, and a shop's product pages past it, are
    counted in one skipped entry that says so."""
    capped = site_catalog.model_copy(update={"max_products": 4})
    base = site.base_url

    async def main() -> list[ScrapeResult]:
        async with CatalogSources(capped) as sources:
            return [
                await sources.scrape(f"{base}/feed/{RAVI}.csv", "ravi"),
                await sources.scrape(f"{base}/shop/{RAVI}", "ravi"),
            ]

    feed, shop = asyncio.run(main())
    for result in (feed, shop):
        assert len(result.products) <= 4
        over = [s for s in result.skipped if "over CATALOG_MAX_PRODUCTS (4)" in s.reason]
        assert len(over) == 1, result.skipped
    (feed_over,) = [s for s in feed.skipped if s.raw_name.endswith("more products")]
    assert feed_over.reason.endswith("more products were not imported")
    assert feed_over.raw_name == f"{16 - 4} more products"  # every row past the limit
    (shop_over,) = [s for s in shop.skipped if s.raw_name.endswith("more product pages")]
    assert shop_over.reason.endswith("linked product pages not read")
    assert shop_over.raw_name == f"{16 - 4} more product pages"  # 15 goods and a broken one
