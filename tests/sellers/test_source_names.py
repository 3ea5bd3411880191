"""A scrape of the sample site's shops names their sellers in the profile (og:site_name,
Shopify's meta.json, WordPress's /wp-json/), never over the operator's name, and search
hits show it. Real sources, the sample site over loopback, real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pipeline.ledger import JobSpec, RedisLedger
from pipeline.products import RedisProductStore
from pipeline.records import JobType
from pipeline.remote.scraper import ScraperWorker
from pipeline.sample_site import SampleSite
from pipeline.search import SearchHit
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import JobSettings, Settings
from pipeline.shopper import add_seller_fields
from pipeline.sources.shop_name import page_site_name
from pipeline.stages.scrape import ScrapeHandler
from tests.keys import KEYS

JOE = "15551234567"  # "Brooklyn Goods", 6 goods in USD


@pytest.fixture
def site() -> Iterator[SampleSite]:
    with SampleSite(host="127.0.0.1", port=0, bulk_products=10) as running:
        yield running


def scrape_job(redis_client: redis.Redis, settings: Settings, seller: str, url: str) -> Any:
    """One scrape-catalog job through the real stage handler and the worker's in-process
    scraper; its result."""
    ledger = RedisLedger(redis_client, JobSettings(), keys=KEYS)
    payload = {"seller_id": seller, "catalog_url": url, "source": "auto"}
    ledger.enqueue(JobSpec(JobType.SCRAPE_CATALOG, payload, seller))
    jobs = ledger.claim(JobType.SCRAPE_CATALOG, "w", 1)

    async def main() -> Any:
        scraper = ScraperWorker(settings.with_overrides(catalog={"verify_images": False}))
        try:
            handler = ScrapeHandler(
                scraper,
                RedisProductStore(redis_client, KEYS),
                None,  # type: ignore[arg-type]  # nothing is removed in these syncs
                None,  # type: ignore[arg-type]
                RedisSellerDirectory(redis_client, KEYS),
            )
            return await handler.handle(jobs)
        finally:
            await scraper.aclose()

    (outcome,) = asyncio.run(main())
    assert outcome.error is None, outcome.error
    return outcome.result


@pytest.mark.parametrize(
    ("platform", "path"),
    [("storefront", "/shop/{}"), ("shopify", "/shopify/{}/"), ("woocommerce", "/woo/{}/")],
)
def test_a_sync_names_the_seller_and_keeps_the_operators_name(
    redis_client: redis.Redis, settings: Settings, site: SampleSite, platform: str, path: str
) -> None:
    directory = RedisSellerDirectory(redis_client, KEYS)
    url = site.base_url + path.format(JOE)
    seller = f"{platform}-joe"
    assert scrape_job(redis_client, settings, seller, url)["found"] == 6
    profile = directory.get(seller)
    assert profile is not None
    assert profile.display_name == "Brooklyn Goods"
    assert profile.shop_url is not None and profile.shop_url.startswith(site.base_url)
    assert profile.whatsapp is None  # a web shop: shoppers get its pages

    # Search hits name the seller and link the product's page at the shop.
    store = RedisProductStore(redis_client, KEYS)
    stored = store.get(sorted(store.seller_product_ids(seller))[0])
    assert stored is not None
    product = stored.record
    hit = SearchHit(
        product_id=product.product_id, score=1.0, seller_id=seller, name=product.name,
        description="", price=None, currency=None, image_url=None,
        product_url=product.source_url,
    )  # fmt: skip
    add_seller_fields([hit], directory.contacts)
    assert (hit.seller_name, hit.contact_kind) == ("Brooklyn Goods", "shop")
    assert hit.contact_url == product.source_url

    # The operator renames the seller; a re-sync says the shop's name again: ignored.
    directory.upsert(seller, display_name="Joe's Corner Shop")
    scrape_job(redis_client, settings, seller, url)
    renamed = directory.get(seller)
    assert renamed is not None and renamed.display_name == "Joe's Corner Shop"
    add_seller_fields([hit], directory.contacts)
    assert hit.seller_name == "Joe's Corner Shop"


def test_site_names_are_read_from_the_head_as_plain_text() -> None:
    page = (
        '<html><head><meta content="Ana &amp; Filhos <b>Loja</b>" property="og:site_name">'
        "<meta name='application-name' content='app'></head><body>"
        '<meta property="og:site_name" content="not in the head"></body></html>'
    )
    assert page_site_name(page) == "Ana & Filhos Loja"
    assert page_site_name('<meta name="application-name" content="Kiosk">') == "Kiosk"
    assert page_site_name('<meta property="og:site_name" content="  ">') is None
    assert page_site_name('<meta property="og:site_name" content="' + "x" * 500 + '">') == (
        "x" * 120
    )
    assert page_site_name("<html><head><title>Only a title</title></head></html>") is None
