"""One Chromium shared by every scrape: a context per job, a bounded number of pages.

Starting a browser costs seconds and hundreds of MB, so a :class:`BrowserPool` launches
one and reuses it; each job gets its own context (cookies, optional WhatsApp Web
``storage_state``, the SSRF request router) and borrows pages under a semaphore of
``CATALOG_PAGE_CONCURRENCY``. The pool is bound to the event loop that started it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import BackendUnavailable, ConfigError
from pipeline.fetch.browser_route import BrowserRequestGuard
from pipeline.fetch.guard import UrlGuard
from pipeline.fetch.limits import HostLimiter
from pipeline.settings import CatalogSettings

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

logger = logging.getLogger(__name__)

DEBIAN_CHROMIUM = Path("/usr/lib/chromium/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def chromium_executable(catalog: CatalogSettings, bundled: str | None) -> str | None:
    """The browser to launch: the configured path, else Playwright's own Chromium when it is
    installed (None: let Playwright pick it), else Debian's. Raises ConfigError when none."""
    if catalog.browser_path is not None:
        if not catalog.browser_path.is_file():
            raise ConfigError(f"CATALOG_BROWSER_PATH: no file at {catalog.browser_path}")
        return str(catalog.browser_path)
    if bundled and os.path.isfile(bundled):
        return None
    if DEBIAN_CHROMIUM.is_file():
        return str(DEBIAN_CHROMIUM)
    raise ConfigError(
        "no Chromium found: apt-get install chromium, or set CATALOG_BROWSER_PATH "
        "(playwright install is not used: no downloads at run time)"
    )


class BrowserPool:
    """``async with BrowserPool(catalog) as pool: async with pool.context() as ctx: ...``"""

    def __init__(
        self,
        catalog: CatalogSettings,
        *,
        guard: UrlGuard | None = None,
        limiter: HostLimiter | None = None,
    ) -> None:
        self.catalog = catalog
        self.guard = guard or UrlGuard(catalog.allowed_hosts)
        self.limiter = limiter or HostLimiter(catalog.per_host_concurrency, catalog.per_host_rate)
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._lock = asyncio.Lock()
        self._pages = asyncio.Semaphore(catalog.page_concurrency)

    async def __aenter__(self) -> BrowserPool:
        await self.browser()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def browser(self) -> Browser:
        """The shared browser, launched on first use (or again after it crashed).

        Raises ConfigError when no Chromium exists, BackendUnavailable when it cannot start.
        """
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            from playwright.async_api import Error as PlaywrightError
            from playwright.async_api import async_playwright

            if self._playwright is None:
                self._playwright = await async_playwright().start()
            chromium = self._playwright.chromium
            executable = chromium_executable(self.catalog, chromium.executable_path)
            try:
                self._browser = await chromium.launch(
                    executable_path=executable,
                    headless=self.catalog.headless,
                    args=LAUNCH_ARGS,
                    timeout=60_000,
                )
            except PlaywrightError as exc:
                raise BackendUnavailable(f"Chromium did not start: {exc}") from exc
            logger.info("browser started: %s", executable or "playwright chromium")
            return self._browser

    @asynccontextmanager
    async def context(self, *, storage_state: Path | None = None) -> AsyncIterator[Routed]:
        """A fresh context with the request guard installed; closed on exit."""
        browser = await self.browser()
        state = storage_state or self.catalog.storage_state
        if state is not None and not Path(state).is_file():
            raise ConfigError(f"CATALOG_STORAGE_STATE: no file at {state}")
        context = await browser.new_context(
            user_agent=self.catalog.user_agent,
            service_workers="block",
            storage_state=str(state) if state else None,
            viewport={"width": 900, "height": 1200},
            java_script_enabled=True,
        )
        context.set_default_timeout(self.catalog.fetch_timeout * 1000)
        router = BrowserRequestGuard(
            self.guard,
            self.limiter,
            max_bytes=self.catalog.max_page_bytes,
            timeout_s=self.catalog.fetch_timeout,
        )
        await router.install(context)
        try:
            yield Routed(context, router, self._pages)
        finally:
            await context.close()

    async def aclose(self) -> None:
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None


class Routed:
    """A job's browser context: borrow pages with ``async with routed.page() as page``."""

    def __init__(
        self, context: BrowserContext, router: BrowserRequestGuard, pages: asyncio.Semaphore
    ) -> None:
        self.context = context
        self.router = router
        self._pages = pages

    @asynccontextmanager
    async def page(self) -> AsyncIterator[Page]:
        async with self._pages:
            page = await self.context.new_page()
            try:
                yield page
            finally:
                await page.close()
