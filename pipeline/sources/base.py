"""What the rest of the system needs from a catalog source."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from pipeline.records import ProductRecord, SkippedProduct


class SourceKind(StrEnum):
    AUTO = "auto"
    WHATSAPP = "whatsapp"
    GRAPH = "graph"
    STOREFRONT = "storefront"
    FEED = "feed"


@dataclass
class ScrapeResult:
    products: list[ProductRecord] = field(default_factory=list)
    skipped: list[SkippedProduct] = field(default_factory=list)


class CatalogSource(Protocol):
    """Reads one seller's catalog. Raises PermanentError for a URL or page that can never work,
    RetryableError for what may pass (timeouts, 5xx, rate limits)."""

    kind: SourceKind

    async def scrape(self, url: str, seller_id: str) -> ScrapeResult: ...
