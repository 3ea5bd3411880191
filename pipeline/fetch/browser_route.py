"""The SSRF guard inside the browser: every request of a Playwright context goes through here.

Chromium would resolve and connect on its own, and Playwright's route handler is not
called again for redirects, so the router fetches each request itself with
``route.fetch(max_redirects=0)``: the URL is checked before the fetch, and a redirect's
``Location`` is checked before the redirect is handed to the browser (which then issues
the next hop as a new routed request, checked in turn). Bodies over the page limit and
refused URLs are aborted, and the per-host budget of the HTTP fetcher applies here too.
WebSockets are refused and service workers blocked (they would bypass routing).

Residual risk: ``route.fetch`` resolves the host name again after our check, so a DNS
answer that changes in between (rebinding) is not pinned as it is in the SafeFetcher.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from playwright.async_api import Error as PlaywrightError

from pipeline.errors import CatalogSyncError
from pipeline.fetch.fetcher import REDIRECT_CODES
from pipeline.fetch.guard import UrlGuard
from pipeline.fetch.limits import HostLimiter

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Route, WebSocketRoute

logger = logging.getLogger(__name__)

# Resource types a scraper never needs: images are downloaded through the SafeFetcher.
SKIPPED_RESOURCES = frozenset({"image", "media", "font", "websocket", "manifest", "other"})
_LOCAL_SCHEMES = ("data", "blob", "about")


class BrowserRequestGuard:
    """Routes a context's requests through the guard. ``refused`` counts refusals by reason."""

    def __init__(
        self,
        guard: UrlGuard,
        limiter: HostLimiter,
        *,
        max_bytes: int,
        timeout_s: float,
        skip_resources: frozenset[str] = SKIPPED_RESOURCES,
    ) -> None:
        self.guard = guard
        self.limiter = limiter
        self.max_bytes = max_bytes
        self.timeout_ms = timeout_s * 1000
        self.skip_resources = skip_resources
        self.refused: Counter[str] = Counter()
        self.requests = 0

    async def install(self, context: BrowserContext) -> None:
        await context.route("**/*", self.handle)
        await context.route_web_socket("**/*", self._refuse_socket)

    async def _refuse_socket(self, ws: WebSocketRoute) -> None:
        self.refused["websocket"] += 1
        await ws.close(code=1008, reason="websockets are not allowed while scraping")

    async def handle(self, route: Route) -> None:
        """Check, fetch without following redirects, check the Location, hand it over."""
        request = route.request
        url = request.url
        if urlsplit(url).scheme in _LOCAL_SCHEMES:
            await route.continue_()
            return
        if request.resource_type in self.skip_resources:
            await route.abort("blockedbyclient")
            return
        try:
            checked = await self.guard.check(url)
        except CatalogSyncError as exc:
            await self._refuse(route, url, str(exc))
            return
        self.requests += 1
        try:
            async with self.limiter.slot(checked.host_key):
                response = await route.fetch(max_redirects=0, timeout=self.timeout_ms)
        except PlaywrightError as exc:  # connection refused, reset, timeout
            logger.info("browser fetch of %s failed: %s", url[:200], exc)
            await route.abort("failed")
            return
        if response.status in REDIRECT_CODES:
            location = response.headers.get("location", "")
            try:
                await self.guard.check(urljoin(url, location))
            except CatalogSyncError as exc:
                await self._refuse(route, url, f"redirect to {location[:200]}: {exc}")
                return
        else:
            body = await response.body()
            if len(body) > self.max_bytes:
                await self._refuse(route, url, f"over the limit of {self.max_bytes} bytes")
                return
        await route.fulfill(response=response)

    async def _refuse(self, route: Route, url: str, reason: str) -> None:
        logger.info("browser request refused: %s (%s)", url[:200], reason)
        self.refused[reason.split(":", 1)[0][:100]] += 1
        await route.abort("blockedbyclient")
