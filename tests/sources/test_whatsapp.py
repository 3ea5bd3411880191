"""The Playwright WhatsApp source against the sample site in real Chromium."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from pipeline.errors import PermanentError, UnsafeURLError
from pipeline.fetch import SafeFetcher
from pipeline.records import Availability
from pipeline.sample_site import SampleSite
from pipeline.settings import CatalogSettings
from pipeline.sources.browser import BrowserPool
from pipeline.sources.whatsapp import PlaywrightCatalogSource
from tests.sources.httpserver import Reply, TestServer

pytestmark = pytest.mark.slow
ANA = "5511987654321"
RAVI = "919876543210"


def test_catalog_is_scrolled_to_the_end_with_details_and_broken_entries(
    site: SampleSite, site_catalog: CatalogSettings
) -> None:
    async def main() -> None:
        async with SafeFetcher(site_catalog) as fetcher, BrowserPool(site_catalog) as pool:
            source = PlaywrightCatalogSource(site_catalog, pool, fetcher)
            # 45 products: the list loads 20 at a time, so three scroll rounds.
            ana = await source.scrape(f"{site.base_url}/c/{ANA}", "ana")
            assert len(ana.products) == 43
            reasons = sorted(s.reason.split(":")[0] for s in ana.skipped)
            assert reasons == ["no usable image", "product has no name"]
            by_id = {p.retailer_id: p for p in ana.products}
            tote = by_id["ana-0004"]
            assert (tote.price, tote.currency, tote.price_raw) == (
                Decimal("1299.9"),
                "BRL",
                "R$ 1.299,90",
            )
            assert tote.description and tote.image_sha256 and tote.source_url.endswith("ana-0004")
            assert len(tote.image_urls) == 2
            assert by_id["ana-drug"].name == "Maconha prensada 25g"  # policy entries pass through
            # The 404 image of another seller; availability read from the detail page.
            ravi = await source.scrape(f"{site.base_url}/c/{RAVI}", "ravi")
            assert [s.raw_name for s in ravi.skipped] == ["Brass diya lamp"]
            assert "404" in ravi.skipped[0].reason
            assert {p.availability for p in ravi.products} <= {
                Availability.IN_STOCK,
                Availability.OUT_OF_STOCK,
            }
            # A product that disappears is gone on the next scrape; a changed one changes hash.
            site.catalog.remove(RAVI, "ravi-0002")
            site.catalog.update(RAVI, "ravi-0003", name="Renamed earrings")
            again = await source.scrape(f"{site.base_url}/c/{RAVI}", "ravi")
            before = {p.retailer_id: p.content_hash for p in ravi.products}
            after = {p.retailer_id: p.content_hash for p in again.products}
            assert set(before) - set(after) == {"ravi-0002"}
            assert before["ravi-0003"] != after["ravi-0003"]
            assert before["ravi-0004"] == after["ravi-0004"]
            with pytest.raises(PermanentError, match="not available"):
                await source.scrape(f"{site.base_url}/c/123456789", "nobody")

    asyncio.run(main())


def test_browser_requests_go_through_the_guard(
    site_catalog: CatalogSettings, server: TestServer
) -> None:
    """Redirect hops and page subresources to addresses that are not allow-listed are refused
    inside the browser, and so is the catalog URL itself."""
    catalog = site_catalog.model_copy(update={"allowed_hosts": (f"127.0.0.1:{server.port}",)})
    other = f"http://127.0.0.2:{server.port}"
    page = (
        "<html><body><div data-testid=catalog-end>end</div><script>"
        f"fetch('{other}/secret').then(() => document.title = 'leaked')"
        ".catch(() => document.title = 'blocked');</script></body></html>"
    ).encode()
    server.route("/c/5511900000000", Reply(200, page, {"Content-Type": "text/html"}))
    server.route("/c/5511900000001", Reply(302, headers={"Location": "/c/5511900000000"}))
    server.route("/c/5511900000002", Reply(302, headers={"Location": f"{other}/c/5511900000000"}))

    async def main() -> None:
        async with BrowserPool(catalog) as pool:
            source = PlaywrightCatalogSource(
                catalog.model_copy(update={"scroll_idle_ms": 200}), pool
            )
            # An allowed redirect is followed: the page shows an empty catalog.
            with pytest.raises(PermanentError, match="no products"):
                await source.scrape(server.url("/c/5511900000001"), "s")
            assert [s.path for s in server.seen][:2] == ["/c/5511900000001", "/c/5511900000000"]
            with pytest.raises(UnsafeURLError, match="refused"):
                await source.scrape(server.url("/c/5511900000002"), "s")
            with pytest.raises(UnsafeURLError):
                await source.scrape(f"{other}/c/5511900000000", "s")
            async with pool.context() as routed, routed.page() as tab:
                await tab.goto(server.url("/c/5511900000000"))
                await tab.wait_for_function("document.title !== ''", timeout=10_000)
                assert await tab.title() == "blocked"
                assert routed.router.refused
        assert not any(s.path == "/secret" for s in server.seen)

    asyncio.run(main())
