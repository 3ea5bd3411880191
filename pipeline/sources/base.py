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
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"


@dataclass
class ScrapeResult:
    """Every product a source could import, and every one it could not with the reason."""

    products: list[ProductRecord] = field(default_factory=list)
    skipped: list[SkippedProduct] = field(default_factory=list)
    source: SourceKind = SourceKind.AUTO
    url: str = ""
    # What the catalog says about its seller (WhatsApp business name, og:site_name, shop
    # name; the shop's home page), when it says it: fills the seller's profile.
    seller_name: str | None = None
    shop_url: str | None = None


class CatalogSource(Protocol):
    """Reads one seller's catalog. Raises PermanentError for a URL or page that can never work
    (UnsafeURLError for a refused URL), RetryableError/BackendUnavailable for what may pass
    (timeouts, 5xx, rate limits). A product that cannot be imported is a SkippedProduct in
    the result, never an exception."""

    kind: SourceKind

    async def scrape(self, url: str, seller_id: str) -> ScrapeResult: ...
