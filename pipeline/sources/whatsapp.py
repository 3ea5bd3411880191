"""The WhatsApp catalog through a real browser: the seed's path, made complete and bounded.

Opens the catalog link in a context of the shared :class:`BrowserPool` (optionally with a
saved WhatsApp Web session), scrolls the list until it stops growing (with one nudge
before deciding it has ended), then opens the detail pages with ``page_concurrency``
pages at a time. Selectors come from :mod:`pipeline.sources.whatsapp_profile`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from pipeline.errors import BackendUnavailable, PermanentError, UnsafeURLError
from pipeline.fetch import SafeFetcher, split_url
from pipeline.records import SkippedProduct
from pipeline.seller_contact import MAX_NAME_CHARS
from pipeline.settings import CatalogSettings
from pipeline.sources.assemble import ImagePrefetch, assemble
from pipeline.sources.base import ScrapeResult, SourceKind
from pipeline.sources.browser import BrowserPool, Routed
from pipeline.sources.normalize import RawProduct
from pipeline.sources.whatsapp_profile import SiteProfile, profile_for

logger = logging.getLogger(__name__)

_LIST_JS = """(items, p) => items.map((el) => {
  const link = el.querySelector(p.link);
  const text = (sel) => ((el.querySelector(sel) || {}).textContent || "").trim();
  return {id: el.getAttribute(p.idAttr), href: link ? link.href : null,
          name: text(p.name), price: text(p.price)};
})"""
_DETAIL_JS = """(root, p) => {
  const text = (sel) => ((root.querySelector(sel) || {}).textContent || "").trim();
  return {id: root.getAttribute(p.idAttr), name: text(p.name), price: text(p.price),
          description: text(p.description), availability: text(p.availability),
          images: Array.from(root.querySelectorAll(p.images)).map((i) => i.src).filter(Boolean)};
}"""
_GROWN_JS = """([sel, n, end]) =>
  document.querySelectorAll(sel).length > n || document.querySelector(end) !== null"""


class PlaywrightCatalogSource:
    """Scrapes a WhatsApp-style catalog page. Raises PermanentError for an unavailable
    catalog, a login wall or a refused URL; BackendUnavailable when the page cannot load."""

    kind = SourceKind.WHATSAPP

    def __init__(
        self, catalog: CatalogSettings, pool: BrowserPool, fetcher: SafeFetcher | None = None
    ) -> None:
        self.catalog = catalog
        self.pool = pool
        self.fetcher = fetcher if catalog.verify_images else None

    async def scrape(self, url: str, seller_id: str) -> ScrapeResult:
        split = split_url(url)
        await self.pool.guard.check(url)  # a clear refusal before the browser is involved
        profile = profile_for(split.host)
        started = time.monotonic()
        prefetch = ImagePrefetch(self.fetcher)
        try:
            async with self.pool.context(host=split.host) as routed:
                async with routed.page() as page:
                    items = await self._list(page, url, profile, routed)
                    name = await self._seller_name(page, profile)
                raws, skipped = await self._details(routed, items, profile, seller_id, prefetch)
        except BaseException:
            prefetch.cancel()
            raise
        logger.info(
            "scraped %d list items of %s in %.1fs (%d browser requests)",
            len(items),
            url[:200],
            time.monotonic() - started,
            routed.router.requests,
        )
        result = await assemble(
            raws,
            seller_id=seller_id,
            source_url=url,
            kind=self.kind,
            fetcher=self.fetcher,
            skipped=skipped,
            max_products=self.catalog.max_products,
            prefetch=prefetch,
        )
        result.seller_name = name
        return result

    @staticmethod
    async def _seller_name(page: Page, profile: SiteProfile) -> str | None:
        """The business name the catalog shows, or None (never fails the scrape)."""
        try:
            found = page.locator(profile.seller_name).first
            text = await found.text_content(timeout=1000) if await found.count() else None
        except PlaywrightError:
            return None
        name = " ".join((text or "").split())[:MAX_NAME_CHARS]
        return name or None

    async def _goto(self, page: Page, url: str, routed: Routed) -> int:
        refused_before = routed.refusals()
        try:
            response = await page.goto(url, wait_until="domcontentloaded")
        except PlaywrightError as exc:
            if routed.refusals() > refused_before:
                raise UnsafeURLError(f"{url[:200]}: request refused ({routed.reasons()})") from exc
            raise BackendUnavailable(f"{url[:200]} did not load: {exc}") from exc
        if response is None:
            return 200
        # A redirect hop the egress proxy refused ends the navigation on its 403.
        reason = routed.refused_reason(await response.all_headers())
        if reason is not None:
            raise UnsafeURLError(f"{url[:200]}: request refused ({reason})")
        return response.status

    async def _list(
        self, page: Page, url: str, profile: SiteProfile, routed: Routed
    ) -> list[dict[str, Any]]:
        status = await self._goto(page, url, routed)
        if status >= 500:
            raise BackendUnavailable(f"{url[:200]} answered {status}")
        if status >= 400:
            raise PermanentError(f"{url[:200]} answered {status}: no catalog there")
        try:
            await page.wait_for_selector(profile.list_ready, state="attached")
        except PlaywrightTimeout as exc:
            raise PermanentError(f"{url[:200]} shows no catalog (no product list)") from exc
        if await page.locator(profile.login_wall).count():
            raise PermanentError(
                f"{url[:200]} needs a logged-in WhatsApp Web session: save one with Playwright "
                "and set CATALOG_STORAGE_STATE"
            )
        if await page.locator(profile.unavailable).count():
            raise PermanentError(f"{url[:200]}: this catalog is not available")
        await self._scroll_to_end(page, profile)
        arg = {
            "link": profile.item_link,
            "idAttr": profile.item_id_attr,
            "name": profile.item_name,
            "price": profile.item_price,
        }
        items: list[dict[str, Any]] = await page.eval_on_selector_all(profile.item, _LIST_JS, arg)
        return items[: self.catalog.max_products]

    async def _grew(self, page: Page, profile: SiteProfile, count: int) -> bool:
        try:
            await page.wait_for_function(
                _GROWN_JS,
                arg=[profile.item, count, profile.end_marker],
                timeout=self.catalog.scroll_idle_ms,
            )
        except PlaywrightTimeout:
            return False
        return True

    async def _scroll_to_end(self, page: Page, profile: SiteProfile) -> None:
        """Scroll until the end marker shows or the list stops growing after a nudge."""
        deadline = time.monotonic() + max(60.0, self.catalog.fetch_timeout * 6)
        items = page.locator(profile.item)
        count = await items.count()
        while count < self.catalog.max_products and time.monotonic() < deadline:
            if await page.locator(profile.end_marker).count():
                return
            await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            if not await self._grew(page, profile, count):
                # A nudge: some lists only load on a fresh scroll event near the bottom.
                await page.evaluate("window.scrollBy(0, -window.innerHeight)")
                await page.wait_for_timeout(100)
                await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
                if not await self._grew(page, profile, count):
                    logger.info("list stopped growing at %d items without an end marker", count)
                    return
            count = await items.count()
        if count >= self.catalog.max_products:
            logger.warning("catalog has more than %d products: stopped", self.catalog.max_products)

    async def _details(
        self,
        routed: Routed,
        items: list[dict[str, Any]],
        profile: SiteProfile,
        seller_id: str,
        prefetch: ImagePrefetch,
    ) -> tuple[list[RawProduct], list[SkippedProduct]]:
        """Detail pages, ``page_concurrency`` workers each reusing one page; image checks
        start as soon as a detail page names its images."""
        queue: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
        for pair in enumerate(items):
            queue.put_nowait(pair)
        raws: list[RawProduct | None] = [None] * len(items)
        skipped: list[SkippedProduct] = []

        async def worker() -> None:
            async with routed.page() as page:
                while not queue.empty():
                    index, item = queue.get_nowait()
                    made = await self._detail(page, item, profile, seller_id, routed)
                    if isinstance(made, SkippedProduct):
                        skipped.append(made)
                    else:
                        raws[index] = made
                        prefetch.start(made.image_urls)

        workers = min(self.catalog.page_concurrency, max(1, len(items)))
        await asyncio.gather(*(worker() for _ in range(workers)))
        return [r for r in raws if r is not None], skipped

    async def _detail(
        self,
        page: Page,
        item: dict[str, Any],
        profile: SiteProfile,
        seller_id: str,
        routed: Routed,
    ) -> RawProduct | SkippedProduct:
        href = item.get("href")
        from_list = RawProduct(
            name=item.get("name"),
            retailer_id=item.get("id"),
            price_text=item.get("price"),
            url=href,
        )
        if not href:
            return from_list
        try:
            status = await self._goto(page, href, routed)
            if status == 404:
                return SkippedProduct(
                    seller_id=seller_id,
                    source_url=href[:4096],
                    raw_name=item.get("name"),
                    reason="detail page is gone (404)",
                )
            if status >= 400:
                raise BackendUnavailable(f"{href[:200]} answered {status}")
            root = page.locator(profile.detail).first
            await root.wait_for(state="attached")
            arg = {
                "idAttr": profile.detail_id_attr,
                "name": profile.detail_name,
                "price": profile.detail_price,
                "description": profile.detail_description,
                "availability": profile.detail_availability,
                "images": profile.detail_images,
            }
            data: dict[str, Any] = await root.evaluate(_DETAIL_JS, arg)
        except (PlaywrightError, BackendUnavailable, UnsafeURLError) as exc:
            # The list already has name, price and id: better than losing the product.
            logger.info("detail page %s failed (%s); keeping the list entry", href[:200], exc)
            return from_list
        return RawProduct(
            name=data.get("name") or item.get("name"),
            retailer_id=data.get("id") or item.get("id"),
            price_text=data.get("price") or item.get("price"),
            description=data.get("description"),
            image_urls=list(data.get("images") or []),
            availability=data.get("availability"),
            url=href,
        )
