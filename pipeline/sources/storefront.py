"""A seller's own shop page: schema.org Product data (JSON-LD, microdata, OpenGraph).

A product page gives its product; a listing page whose ``ItemList`` only links to product
pages is followed, one fetch per product page (bounded by ``CATALOG_MAX_PRODUCTS`` and the
fetcher's per-host budget). A linked page that is gone (4xx) becomes a skipped product; a
retryable failure fails the job, so a sync never mistakes a timeout for a removal.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urljoin

from pipeline.errors import PermanentError, RetryableError
from pipeline.fetch import SafeFetcher
from pipeline.records import SkippedProduct
from pipeline.settings import CatalogSettings
from pipeline.sources.assemble import assemble
from pipeline.sources.base import ScrapeResult, SourceKind
from pipeline.sources.normalize import RawProduct
from pipeline.sources.storefront_extract import Extracted, extract_products

logger = logging.getLogger(__name__)

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


class StorefrontCatalogSource:
    """Reads schema.org product data from shop pages. Raises PermanentError when the page
    has no product data at all."""

    kind = SourceKind.STOREFRONT

    def __init__(self, catalog: CatalogSettings, fetcher: SafeFetcher) -> None:
        self.catalog = catalog
        self.fetcher = fetcher

    async def _page(self, url: str) -> tuple[str, Extracted]:
        result = await self.fetcher.fetch(url, accept=HTML_ACCEPT)
        if result.content_type and "html" not in result.content_type:
            raise PermanentError(
                f"{url[:200]} is {result.content_type}, not an HTML page "
                "(for a feed, use --source feed)"
            )
        return result.final_url, extract_products(result.text())

    async def scrape(self, url: str, seller_id: str) -> ScrapeResult:
        final_url, found = await self._page(url)
        raws = [self._with_url(raw, final_url) for raw in found.products]
        skipped: list[SkippedProduct] = []
        links = list(dict.fromkeys(urljoin(final_url, link) for link in found.links))
        links = links[: self.catalog.max_products]
        if links:
            gate = asyncio.Semaphore(self.catalog.per_host_concurrency * 2)
            pages = await asyncio.gather(*(self._linked(link, gate, seller_id) for link in links))
            for page in pages:
                if isinstance(page, SkippedProduct):
                    skipped.append(page)
                else:
                    raws.extend(page)
        if not raws and not skipped:
            raise PermanentError(
                f"no products on {url[:200]}: no schema.org Product in JSON-LD or microdata, "
                "and no OpenGraph product tags"
            )
        logger.info("storefront %s: %d products (%s)", url[:200], len(raws), found.method)
        return await assemble(
            raws,
            seller_id=seller_id,
            source_url=final_url,
            kind=self.kind,
            fetcher=self.fetcher if self.catalog.verify_images else None,
            skipped=skipped,
            max_products=self.catalog.max_products,
        )

    @staticmethod
    def _with_url(raw: RawProduct, page_url: str) -> RawProduct:
        raw.url = urljoin(page_url, raw.url) if raw.url else page_url
        raw.image_urls = [urljoin(page_url, u) for u in raw.image_urls]
        return raw

    async def _linked(
        self, link: str, gate: asyncio.Semaphore, seller_id: str
    ) -> list[RawProduct] | SkippedProduct:
        async with gate:
            try:
                final_url, found = await self._page(link)
            except RetryableError:
                raise
            except PermanentError as exc:
                return SkippedProduct(
                    seller_id=seller_id, source_url=link[:4096], reason=str(exc)[:1000]
                )
        if not found.products:
            return SkippedProduct(
                seller_id=seller_id,
                source_url=link[:4096],
                reason="linked page has no product data",
            )
        return [self._with_url(raw, final_url) for raw in found.products]
