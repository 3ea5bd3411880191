"""Our Scraper protocol over the real catalog sources, in this process (no Ray)."""

from __future__ import annotations

from pipeline.settings import CatalogSettings
from pipeline.sources.base import ScrapeResult, SourceKind
from pipeline.sources.detect import CatalogSources


class LocalScraper:
    def __init__(self, catalog: CatalogSettings) -> None:
        self.catalog = catalog

    async def scrape(self, url: str, seller_id: str, source: str) -> ScrapeResult:
        async with CatalogSources(self.catalog) as sources:
            return await sources.scrape(url, seller_id, SourceKind(source))
