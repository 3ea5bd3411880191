"""The Graph Catalog API source against the sample site's Graph API imitation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from pipeline.errors import BackendUnavailable, PermanentError, RetryableError
from pipeline.fetch import SafeFetcher
from pipeline.sample_site import GraphFault, SampleSite
from pipeline.settings import CatalogSettings
from pipeline.sources.base import ScrapeResult
from pipeline.sources.graph import GraphCatalogSource, catalog_id_from

BULK = "910000000000"  # the bulk seller's catalog id


def scrape(catalog: CatalogSettings, url: str, **kw: Any) -> ScrapeResult:
    async def main() -> ScrapeResult:
        async with SafeFetcher(catalog) as fetcher:
            return await GraphCatalogSource(catalog, fetcher, **kw).scrape(url, "bulk")

    return asyncio.run(main())


def test_paging_is_followed_to_the_end(site: SampleSite, site_catalog: CatalogSettings) -> None:
    catalog = site_catalog.model_copy(update={"verify_images": False})
    result = scrape(catalog, f"{site.base_url}/graph/v21.0/{BULK}/products")
    assert len(result.products) == 200 and not result.skipped
    assert [p.retailer_id for p in result.products[:2]] == ["bulk-0001", "bulk-0002"]
    assert all(p.currency == "USD" and p.price is not None for p in result.products)


def test_bare_catalog_id_and_url_forms() -> None:
    base = "https://graph.facebook.com/v21.0"
    assert catalog_id_from("123456", base) == "123456"
    assert catalog_id_from("https://graph.facebook.com/v19.0/123456/products", base) == "123456"
    assert catalog_id_from("https://graph.facebook.com/123456", base) == "123456"
    with pytest.raises(PermanentError, match="names no catalog"):
        catalog_id_from("https://graph.facebook.com/v21.0/me/accounts", base)


def test_token_errors_are_permanent(site: SampleSite, site_catalog: CatalogSettings) -> None:
    url = f"{site.base_url}/graph/v21.0/{BULK}/products"
    with pytest.raises(PermanentError, match="code 190.*new access token"):
        scrape(site_catalog, url, token="expired")
    with pytest.raises(PermanentError, match="CATALOG_GRAPH_TOKEN"):
        scrape(site_catalog.model_copy(update={"graph_token": None}), url)
    with pytest.raises(PermanentError, match="code 100"):
        scrape(site_catalog, f"{site.base_url}/graph/v21.0/9123/products")


def test_rate_limits_are_retryable_with_the_announced_delay(
    site: SampleSite, site_catalog: CatalogSettings
) -> None:
    url = f"{site.base_url}/graph/v21.0/95511987654321/products"
    usage = {
        "123": [
            {"type": "catalog_management", "call_count": 100, "estimated_time_to_regain_access": 5}
        ]
    }
    site.graph_faults.append(
        GraphFault(
            400,
            80014,
            "Too many calls",
            subcode=2446079,
            headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
        )
    )
    with pytest.raises(RetryableError) as business:
        scrape(site_catalog, url)
    assert business.value.delay == 300
    site.graph_faults.append(
        GraphFault(403, 4, "Application request limit reached", headers={"Retry-After": "30"})
    )
    with pytest.raises(RetryableError) as app:
        scrape(site_catalog, url)
    assert app.value.delay == 30
    site.graph_faults.append(GraphFault(500, 2, "Service temporarily unavailable"))
    with pytest.raises(BackendUnavailable):
        scrape(site_catalog, url)
    site.graph_faults.append(GraphFault(400, 200, "Permissions error"))
    with pytest.raises(PermanentError, match="Permissions"):
        scrape(site_catalog, url)


def test_an_error_on_a_later_page_fails_the_whole_scrape(
    site: SampleSite, site_catalog: CatalogSettings
) -> None:
    # Page 1 answers, page 2 is throttled: no partial catalog may come back (a partial one
    # would read as removals on the next diff).
    catalog = site_catalog.model_copy(update={"verify_images": False})
    site.graph_faults.extend([None, GraphFault(400, 17, "User request limit reached")])
    with pytest.raises(RetryableError, match="rate limited"):
        scrape(catalog, f"{site.base_url}/graph/v21.0/{BULK}/products")
    assert site.graph_faults == []
    assert len(scrape(catalog, f"{site.base_url}/graph/v21.0/{BULK}/products").products) == 200
