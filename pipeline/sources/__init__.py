"""Catalog sources: WhatsApp (Playwright), Meta's Graph Catalog API, storefront pages and
feeds, all producing the same ProductRecords through one SSRF-safe fetcher.

Kept light on purpose (importing the protocol must not import Playwright): the factory
is ``pipeline.sources.detect.CatalogSources``.
"""

from pipeline.sources.base import CatalogSource, ScrapeResult, SourceKind

__all__ = ["CatalogSource", "ScrapeResult", "SourceKind"]
