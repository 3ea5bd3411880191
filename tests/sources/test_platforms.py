"""Shopify and WooCommerce catalogs: detection by URL and by page, their JSON mapped to
one product per listing, pagination, and the page read instead when the API is off."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from pipeline.errors import PermanentError
from pipeline.records import Availability, ProductRecord
from pipeline.sample_site import SampleProduct, SampleSite
from pipeline.settings import CatalogSettings, Settings
from pipeline.sources.base import ScrapeResult, SourceKind
from pipeline.sources.detect import CatalogSources, detect_source
from pipeline.sources.normalize import to_record
from pipeline.sources.platform import platform_of_page
from pipeline.sources.shop_platforms import shopify_raw, woo_raw
from tests.sources.httpserver import Reply, TestServer

JOE = "15551234567"  # 6 goods in USD
CLAIRE = "33612345678"  # 9 goods, a zero price, an item on preorder
BULK = "10000000000"


def _variant(price: str, available: bool) -> dict[str, object]:
    return {"price": price, "available": available, "compare_at_price": None}


def test_shopify_price_is_the_cheapest_available_variant() -> None:
    product = {
        "id": 7001,
        "title": "Linen &amp; cotton shirt",
        "handle": "linen-shirt",
        "body_html": "<p>Soft <strong>linen</strong></p>",
        "variants": [_variant("19.00", False), _variant("24.50", True), _variant("22.00", True)],
        "images": [
            {"src": "https://cdn.example.com/a.jpg"},
            {"src": "https://cdn.example.com/b.jpg"},
        ],
    }
    record = to_record(shopify_raw(product, "https://shop.example", "USD"), "s", "")
    assert isinstance(record, ProductRecord)
    assert (record.retailer_id, record.name, record.description) == (
        "7001",
        "Linen & cotton shirt",
        "Soft linen",
    )
    assert (record.price, record.currency, record.availability) == (
        Decimal("22"),
        "USD",
        Availability.IN_STOCK,
    )
    assert record.source_url == "https://shop.example/products/linen-shirt"
    assert len(record.image_urls) == 2
    product["variants"] = [_variant("30.00", False), _variant("25.00", False)]
    sold_out = to_record(shopify_raw(product, "https://shop.example", None), "s", "")
    assert isinstance(sold_out, ProductRecord)
    assert (sold_out.price, sold_out.availability) == (Decimal("25"), Availability.OUT_OF_STOCK)


def test_woocommerce_prices_in_minor_units_and_ranges() -> None:
    simple = {
        "id": 12,
        "name": "Caf&eacute; mug",
        "sku": "MUG-1",
        "permalink": "https://woo.example/product/mug/",
        "short_description": "<p>Stoneware</p>",
        "prices": {"price": "1250", "regular_price": "1500", "sale_price": "1250",
                   "currency_code": "EUR", "currency_minor_unit": 2},
        "images": [{"src": "https://woo.example/m.jpg"}],
        "is_in_stock": True,
    }  # fmt: skip
    record = to_record(woo_raw(simple), "s", "")
    assert isinstance(record, ProductRecord)
    assert (record.retailer_id, record.name, record.price, record.currency) == (
        "MUG-1",
        "Café mug",
        Decimal("12.5"),
        "EUR",
    )
    variable = {
        "id": 13,
        "name": "Rug",
        "sku": "",
        "permalink": "https://woo.example/product/rug/",
        "prices": {"price": "9000", "currency_code": "JPY", "currency_minor_unit": 0,
                   "price_range": {"min_amount": "4500", "max_amount": "9000"}},
        "is_in_stock": False,
    }  # fmt: skip
    rug = to_record(woo_raw(variable), "s", "")
    assert isinstance(rug, ProductRecord)
    assert (rug.retailer_id, rug.price, rug.availability) == (
        "13",
        Decimal("4500"),
        Availability.OUT_OF_STOCK,
    )


def test_detection_by_url_and_by_page(site_catalog: CatalogSettings) -> None:
    assert detect_source("https://tees.myshopify.com/", site_catalog) == SourceKind.SHOPIFY
    assert detect_source("https://tees.example/products.json", site_catalog) == "shopify"
    assert (
        detect_source("https://w.example/wp-json/wc/store/v1/products", site_catalog)
        == SourceKind.WOOCOMMERCE
    )
    assert detect_source("https://w.example/feed.json", site_catalog) == SourceKind.FEED
    shopify = '<script>Shopify.theme = {"id": 1}; Shopify.routes.root = "/en-gb/";</script>'
    found = platform_of_page(shopify, "https://tees.example/en-gb/products/x")
    assert found is not None and found.api_url == "https://tees.example/en-gb/products.json"
    woo = (
        '<link rel="https://api.w.org/" href="https://w.example/blog/wp-json/">'
        '<body class="single-product woocommerce">'
    )
    found = platform_of_page(woo, "https://w.example/blog/product/mug/")
    assert found is not None
    assert found.api_url == "https://w.example/blog/wp-json/wc/store/v1/products"
    assert platform_of_page("<html><body>a shop</body></html>", "https://x.example/") is None


def _scrape(catalog: CatalogSettings, url: str, seller: str = "s") -> ScrapeResult:
    async def main() -> ScrapeResult:
        async with CatalogSources(catalog) as sources:
            return await sources.scrape(url, seller)

    return asyncio.run(main())


def _by_name(result: ScrapeResult) -> dict[str, tuple[object, ...]]:
    # The platforms' listings know "can be bought" or not: a preorder is in stock there.
    orderable = {Availability.PREORDER: Availability.IN_STOCK}
    return {
        p.name: (p.price, p.currency, orderable.get(p.availability, p.availability))
        for p in result.products
    }


@pytest.mark.parametrize("platform", ["shopify", "woo"])
def test_a_shops_home_url_gives_its_whole_catalog(
    site: SampleSite, site_catalog: CatalogSettings, platform: str
) -> None:
    """The same products as the seller's feed: names, prices, currency, stock."""
    result = _scrape(site_catalog, f"{site.base_url}/{platform}/{CLAIRE}/")
    assert result.source == (SourceKind.SHOPIFY if platform == "shopify" else "woocommerce")
    feed = _scrape(site_catalog, f"{site.base_url}/feed/{CLAIRE}.csv")
    assert _by_name(result) == _by_name(feed)
    assert len(result.products) == 11 and result.skipped == []


def test_pagination_reads_every_page(site: SampleSite, site_catalog: CatalogSettings) -> None:
    """260 listings: two Shopify pages of 250, three Store API pages of 100."""
    for n in range(60):  # the site's bulk seller has 200
        site.catalog.add(BULK, SampleProduct(f"extra-{n}", f"Extra {n}", "x", Decimal(n), "USD"))
    catalog = site_catalog.model_copy(update={"verify_images": False})
    shopify = _scrape(catalog, f"{site.base_url}/shopify/{BULK}/")
    woo = _scrape(catalog, f"{site.base_url}/woo/{BULK}/")
    assert len(shopify.products) == len(woo.products) == 260
    assert _by_name(shopify) == _by_name(woo)


def test_a_store_with_its_api_off_is_read_from_its_page(
    settings: Settings, server: TestServer
) -> None:
    product = {"@type": "Product", "sku": "T-1", "name": "Tee", "offers": {"price": "15"}}
    page = (
        '<html><head><link href="https://cdn.shopify.com/s/x.css" rel="stylesheet">'
        f'<script type="application/ld+json">{json.dumps(product)}</script></head></html>'
    )
    server.route("/", Reply(body=page.encode(), headers={"Content-Type": "text/html"}))
    server.route("/products.json", Reply(404, b"not found"))
    catalog = settings.with_overrides(catalog={"verify_images": False}).catalog
    result = _scrape(catalog, server.url("/"))
    assert [p.retailer_id for p in result.products] == ["T-1"]
    assert result.source == SourceKind.STOREFRONT
    assert any(s.path.startswith("/products.json?limit=250&page=1") for s in server.seen)


def test_a_platform_api_link_to_a_private_address_is_refused(
    settings: Settings, server: TestServer
) -> None:
    """The API URL comes from the page: the SSRF guard checks it like any other."""
    page = (
        '<html><head><link rel="https://api.w.org/" href="http://169.254.169.254/wp-json/">'
        '</head><body class="woocommerce"><h1>Shop</h1></body></html>'
    )
    server.route("/", Reply(body=page.encode(), headers={"Content-Type": "text/html"}))
    with pytest.raises(PermanentError, match="no products"):
        _scrape(settings.catalog, server.url("/"))
    assert [s.path for s in server.seen] == ["/"]
