"""A seller's own shop page: its products from every structured format (JSON-LD,
microdata, RDFa, OpenGraph) and, for a product page without them, from the page itself.

A product page gives its product; a listing page whose ``ItemList`` only links to product
pages is followed, one fetch per product page (bounded by ``CATALOG_MAX_PRODUCTS`` and the
fetcher's per-host budget). A linked page that is gone (4xx) becomes a skipped product; a
retryable failure fails the job, so a sync never mistakes a timeout for a removal.
With a reader (the Gemini fallback, :mod:`pipeline.sources.gemini_reader`), a page with no
confident product is read by Gemini too. The page's ``og:site_name`` names the seller.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from pipeline.errors import PermanentError, RetryableError
from pipeline.fetch import SafeFetcher
from pipeline.records import SkippedProduct
from pipeline.settings import CatalogSettings
from pipeline.sources.assemble import assemble, over_the_limit
from pipeline.sources.base import ScrapeResult, SourceKind
from pipeline.sources.html_doc import parse_page
from pipeline.sources.normalize import RawProduct
from pipeline.sources.platform import platform_of_page
from pipeline.sources.shop_name import page_site_name
from pipeline.sources.shop_platforms import ShopifyCatalogSource, WooCommerceCatalogSource
from pipeline.sources.storefront_extract import Extracted, extract_from

if TYPE_CHECKING:  # google-genai is imported only where the fallback is on
    from pipeline.sources.gemini_reader import GeminiPageReader

logger = logging.getLogger(__name__)

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


class StorefrontCatalogSource:
    """Reads schema.org product data from shop pages. Raises PermanentError when the page
    has no product data at all."""

    kind = SourceKind.STOREFRONT

    def __init__(
        self,
        catalog: CatalogSettings,
        fetcher: SafeFetcher,
        reader: GeminiPageReader | None = None,
    ) -> None:
        self.catalog = catalog
        self.fetcher = fetcher
        self.reader = reader  # Gemini, for pages our extractor reads no confident product on

    async def _extract(self, text: str, url: str) -> Extracted:
        page = parse_page(text)
        found = extract_from(page, url)
        if self.reader is not None:
            found = await self.reader.complete(found, page, url)
        return found

    async def _fetch(self, url: str) -> tuple[str, str]:
        result = await self.fetcher.fetch(url, accept=HTML_ACCEPT)
        if result.content_type and "html" not in result.content_type:
            raise PermanentError(
                f"{url[:200]} is {result.content_type}, not an HTML page "
                "(for a feed, use --source feed)"
            )
        return result.final_url, result.text()

    async def _page(self, url: str) -> tuple[str, Extracted]:
        final_url, text = await self._fetch(url)
        return final_url, await self._extract(text, final_url)

    async def _platform(self, page: str, page_url: str, seller_id: str) -> ScrapeResult | None:
        """The whole catalog from the platform's API when the page is a Shopify or
        WooCommerce shop; None (read the page instead) when it is not or the API is off."""
        platform = platform_of_page(page, page_url)
        if platform is None:
            return None
        source: ShopifyCatalogSource | WooCommerceCatalogSource
        if platform.kind == SourceKind.SHOPIFY:
            source = ShopifyCatalogSource(self.catalog, self.fetcher)
        else:
            source = WooCommerceCatalogSource(self.catalog, self.fetcher)
        try:
            return await source.scrape(platform.api_url, seller_id)
        except PermanentError as exc:  # the shop turned its API off: its pages remain
            logger.info("%s API of %s unusable (%s); reading the page", platform.kind,
                        page_url[:200], exc)  # fmt: skip
            return None

    async def scrape(self, url: str, seller_id: str) -> ScrapeResult:
        final_url, text = await self._fetch(url)
        site_name = page_site_name(text)
        from_platform = await self._platform(text, final_url, seller_id)
        if from_platform is not None:
            from_platform.seller_name = from_platform.seller_name or site_name
            return from_platform
        found = await self._extract(text, final_url)
        raws = [self._with_url(raw, final_url) for raw in found.products]
        skipped: list[SkippedProduct] = []
        links = list(dict.fromkeys(urljoin(final_url, link) for link in found.links))
        limit = self.catalog.max_products
        if len(links) > limit:
            left_out = len(links) - limit
            skipped.append(
                over_the_limit(
                    seller_id,
                    final_url,
                    left_out,
                    limit,
                    "product pages",
                    "linked product pages not read",
                )
            )
            links = links[:limit]
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
                f"no products on {url[:200]}: no schema.org Product in JSON-LD, microdata or "
                "RDFa, no OpenGraph product tags, and no product heading with a price"
            )
        logger.info("storefront %s: %d products (%s)", url[:200], len(raws), found.method)
        result = await assemble(
            raws,
            seller_id=seller_id,
            source_url=final_url,
            kind=self.kind,
            fetcher=self.fetcher if self.catalog.verify_images else None,
            skipped=skipped,
            max_products=self.catalog.max_products,
        )
        result.seller_name, result.shop_url = site_name, final_url
        return result

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
