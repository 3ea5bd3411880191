"""Which source reads a URL, decided before anything is queued; and the object that owns
the shared fetcher and browser pool and hands out sources.

``auto`` picks: ``wa.me/c/<number>`` (or any ``/c/<number>`` catalog path) -> whatsapp;
the Graph API host -> graph; a ``*.myshopify.com`` host or ``/products.json`` path ->
shopify; a ``/wp-json/wc/store`` path -> woocommerce; a ``.csv/.tsv/.json/.jsonl`` path ->
feed; any other http(s) page -> storefront (which switches to the shop's platform API
when the page shows it is a Shopify or WooCommerce shop). Chat links, Facebook and
Instagram pages and non-http URLs are rejected with the reason.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pipeline.errors import PermanentError, UnsafeURLError
from pipeline.fetch import SafeFetcher, split_url
from pipeline.settings import CatalogSettings
from pipeline.sources.base import CatalogSource, ScrapeResult, SourceKind
from pipeline.sources.browser import BrowserPool
from pipeline.sources.feed import FEED_EXTENSIONS, FeedCatalogSource
from pipeline.sources.graph import GraphCatalogSource
from pipeline.sources.platform import platform_of_url
from pipeline.sources.shop_platforms import ShopifyCatalogSource, WooCommerceCatalogSource
from pipeline.sources.storefront import StorefrontCatalogSource
from pipeline.sources.whatsapp import PlaywrightCatalogSource
from pipeline.sources.whatsapp_profile import CATALOG_PATH, WHATSAPP_HOSTS

if TYPE_CHECKING:  # google-genai is imported only where the fallback is on
    import redis

    from pipeline.settings import Settings
    from pipeline.sources.gemini_reader import GeminiPageReader

logger = logging.getLogger(__name__)


def page_reader(settings: Settings, connect: Callable[[], redis.Redis]) -> GeminiPageReader | None:
    """The Gemini fallback for storefront pages when ``GEMINI_EXTRACT`` is on, else None;
    google-genai is imported only then (``gemini_reader.build_page_reader``)."""
    if not settings.gemini.extract:
        return None
    from pipeline.sources.gemini_reader import build_page_reader

    return build_page_reader(settings, connect)


GRAPH_HOSTS = frozenset({"graph.facebook.com", "graph.beta.facebook.com"})
LOGIN_WALLED = frozenset(
    {
        "facebook.com",
        "www.facebook.com",
        "m.facebook.com",
        "fb.com",
        "instagram.com",
        "www.instagram.com",
        "business.facebook.com",
    }
)


def _is_graph_url(host: str, port: int, path: str, catalog: CatalogSettings) -> bool:
    """On Meta's Graph hosts, or under the configured Graph base URL (host, port and path)."""
    if host in GRAPH_HOSTS:
        return True
    base = split_url(str(catalog.graph_base_url))
    base_path = urlsplit(base.url).path.rstrip("/")
    return (host, port) == (base.host, base.port) and path.startswith(base_path + "/")


def detect_source(
    url: str, catalog: CatalogSettings, kind: SourceKind = SourceKind.AUTO
) -> SourceKind:
    """The source for ``url``. Raises UnsafeURLError for a malformed or non-http URL and
    PermanentError for a URL no source supports (a chat link, a login-walled page)."""
    if kind == SourceKind.GRAPH and re.fullmatch(r"\d{1,30}", url.strip()):
        return kind  # a bare catalog id
    split = split_url(url)
    path = urlsplit(split.url).path
    if kind != SourceKind.AUTO:
        return kind
    if split.host in WHATSAPP_HOSTS:
        if CATALOG_PATH.match(path):
            return SourceKind.WHATSAPP
        raise PermanentError(
            f"{url[:200]} is not a WhatsApp catalog link: use https://wa.me/c/<number>"
        )
    if _is_graph_url(split.host, split.port, path, catalog):
        return SourceKind.GRAPH
    if split.host in LOGIN_WALLED:
        raise PermanentError(
            f"{split.host} pages need a login and are not scraped: connect the catalog "
            "through the Graph API (--source graph with the catalog id) instead"
        )
    if CATALOG_PATH.match(path):
        return SourceKind.WHATSAPP
    platform = platform_of_url(split.host, path)
    if platform is not None:
        return platform
    if path.lower().endswith(FEED_EXTENSIONS[:-1]):
        return SourceKind.FEED
    return SourceKind.STOREFRONT


def default_seller_id(url: str, kind: SourceKind) -> str:
    """A readable seller id from the URL: the phone number, catalog id or host."""
    if kind == SourceKind.GRAPH and url.strip().isdigit():
        return f"catalog-{url.strip()}"
    try:
        split = split_url(url)
    except UnsafeURLError:
        return "seller"
    path = urlsplit(split.url).path
    match = CATALOG_PATH.match(path)
    if match:
        return match.group(1).lstrip("+")
    digits = re.findall(r"/\+?(\d{6,30})(?:\.\w+)?(?=/|$)", path)
    if digits:
        return f"catalog-{digits[0]}" if kind == SourceKind.GRAPH else digits[0]
    return split.host


class CatalogSources:
    """Owns one SafeFetcher and one lazily started BrowserPool for many scrapes.

    ``async with CatalogSources(settings.catalog) as sources:
    result = await sources.scrape(url, seller_id)``. Bound to one event loop.
    """

    def __init__(
        self,
        catalog: CatalogSettings,
        *,
        fetcher: SafeFetcher | None = None,
        pool: BrowserPool | None = None,
        reader: GeminiPageReader | None = None,
    ) -> None:
        """``reader`` (Gemini) reads storefront pages our extractor found no confident
        product on; it is closed with this object."""
        self.catalog = catalog
        self.fetcher = fetcher or SafeFetcher(catalog)
        self.reader = reader
        self._pool = pool
        self._owns_fetcher = fetcher is None
        self._owns_pool = pool is None

    @property
    def pool(self) -> BrowserPool:
        if self._pool is None:
            self._pool = BrowserPool(
                self.catalog, guard=self.fetcher.guard, limiter=self.fetcher.limiter
            )
        return self._pool

    async def __aenter__(self) -> CatalogSources:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._pool is not None and self._owns_pool:
            await self._pool.aclose()
        if self._owns_fetcher:
            await self.fetcher.aclose()
        if self.reader is not None:
            await self.reader.aclose()

    def source(self, kind: SourceKind) -> CatalogSource:
        """The source of ``kind`` (not AUTO), sharing this object's fetcher and pool."""
        if kind == SourceKind.WHATSAPP:
            return PlaywrightCatalogSource(self.catalog, self.pool, self.fetcher)
        if kind == SourceKind.GRAPH:
            return GraphCatalogSource(self.catalog, self.fetcher)
        if kind == SourceKind.STOREFRONT:
            return StorefrontCatalogSource(self.catalog, self.fetcher, self.reader)
        if kind == SourceKind.FEED:
            return FeedCatalogSource(self.catalog, self.fetcher)
        if kind == SourceKind.SHOPIFY:
            return ShopifyCatalogSource(self.catalog, self.fetcher)
        if kind == SourceKind.WOOCOMMERCE:
            return WooCommerceCatalogSource(self.catalog, self.fetcher)
        raise ValueError(f"kind must be a concrete source, got {kind}")

    async def scrape(
        self, url: str, seller_id: str, kind: SourceKind = SourceKind.AUTO
    ) -> ScrapeResult:
        """Detect (or take) the source and scrape. Raises like :func:`detect_source` and
        like the source (PermanentError, RetryableError, BackendUnavailable)."""
        chosen = detect_source(url, self.catalog, kind)
        logger.info("scraping %s for %s with the %s source", url[:200], seller_id, chosen)
        result = await self.source(chosen).scrape(url, seller_id)
        if result.source == SourceKind.AUTO:
            result.source = chosen  # a storefront may have read a platform's API instead
        return result
