"""One Chromium shared by every scrape: a context per job, a bounded number of pages.

Starting a browser costs seconds and hundreds of MB, so a :class:`BrowserPool` launches
one and reuses it; each job gets its own context (cookies, the request router, and the
saved WhatsApp Web session for WhatsApp's own hosts only) and borrows pages under a
semaphore of ``CATALOG_PAGE_CONCURRENCY``. The pool is bound to the event loop that
started it.

Chromium reaches the network only through the pool's :class:`EgressProxy` (every
request, redirect hop and CONNECT checked and pinned), with loopback proxied too, WebRTC
kept off non-proxied UDP, QUIC off and its own DNS resolver answering nothing, so no name
is resolved, and no DNS-over-HTTPS query made, anywhere but in the proxy. It runs with
its sandbox where the OS allows (:mod:`pipeline.sources.browser_sandbox`).
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
from pipeline.fetch.egress_proxy import REFUSED_HEADER, EgressProxy
from pipeline.fetch.guard import UrlGuard
from pipeline.fetch.limits import HostLimiter
from pipeline.settings import CatalogSettings
from pipeline.sources.browser_sandbox import SandboxPlan, plan_sandbox
from pipeline.sources.whatsapp_profile import WHATSAPP_HOSTS

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

logger = logging.getLogger(__name__)

DEBIAN_CHROMIUM = Path("/usr/lib/chromium/chromium")
LAUNCH_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
# The scraper's Chromium talks to the network through the egress proxy alone.
EGRESS_ARGS = [
    # WebRTC may use UDP only through a proxy, and an HTTP proxy carries none: no UDP.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-quic",  # HTTP/3 is UDP, past any HTTP proxy
    "--dns-prefetch-disable",
    # The browser's own resolver (DNS over HTTPS included) answers nothing: names are
    # resolved by the proxy's guard only. The proxy itself is an address, not a name.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
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
        self.proxy = EgressProxy(
            self.guard,
            self.limiter,
            max_bytes=catalog.max_page_bytes,
            timeout_s=catalog.fetch_timeout,
        )
        self.sandbox: SandboxPlan | None = None
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
            from playwright.async_api import async_playwright

            if self._playwright is None:
                self._playwright = await async_playwright().start()
            proxy_url = await self.proxy.start()
            self._browser = await self._launch(proxy_url)
            return self._browser

    async def _launch(self, proxy_url: str) -> Browser:
        """Launch with the sandbox where this machine allows it, else without (logged)."""
        from playwright.async_api import Error as PlaywrightError

        assert self._playwright is not None
        chromium = self._playwright.chromium
        executable = chromium_executable(self.catalog, chromium.executable_path)
        if self.sandbox is not None:
            self.sandbox.cleanup()
        plan = plan_sandbox(executable, chromium.executable_path, self.catalog.browser_user)
        # "<-loopback>": Chromium sends loopback straight out unless told not to.
        proxy = {"server": proxy_url, "bypass": "<-loopback>"}
        args = [*LAUNCH_ARGS, *EGRESS_ARGS]
        error: PlaywrightError | None = None
        for attempt in (plan, SandboxPlan(executable, False, None, None, "fallback")):
            if not attempt.sandbox and plan.sandbox:
                logger.warning(
                    "Chromium did not start with its sandbox (%s); running it with "
                    "--no-sandbox. Allow unprivileged user namespaces to sandbox it.",
                    error,
                )
            try:
                browser = await chromium.launch(
                    executable_path=attempt.executable,
                    headless=self.catalog.headless,
                    args=args,
                    proxy=proxy,  # type: ignore[arg-type]
                    chromium_sandbox=attempt.sandbox,
                    timeout=60_000,
                )
            except PlaywrightError as exc:
                error = exc
                if attempt is plan and plan.sandbox:
                    plan.cleanup()
                    continue
                raise BackendUnavailable(f"Chromium did not start: {exc}") from exc
            self.sandbox = attempt
            logger.info(
                "browser started: %s, sandbox %s (%s), egress through %s",
                executable or "playwright chromium",
                "on" if attempt.sandbox else "off",
                attempt.why if attempt is plan else "the sandboxed launch failed",
                proxy_url,
            )
            return browser
        raise BackendUnavailable(f"Chromium did not start: {error}")  # pragma: no cover

    def session_state(self, host: str | None) -> Path | None:
        """The saved WhatsApp Web session (``CATALOG_STORAGE_STATE``) for a context that
        opens ``host``: only WhatsApp's own hosts get it, never a stranger's page.

        Raises ConfigError when it is set and no file is there.
        """
        state = self.catalog.storage_state
        if state is None or host is None or host.lower().rstrip(".") not in WHATSAPP_HOSTS:
            return None
        if not Path(state).is_file():
            raise ConfigError(f"CATALOG_STORAGE_STATE: no file at {state}")
        return Path(state)

    @asynccontextmanager
    async def context(self, *, host: str | None = None) -> AsyncIterator[Routed]:
        """A fresh context with the request router installed; closed on exit. ``host`` is
        the catalog's host: it decides whether the WhatsApp session is loaded."""
        browser = await self.browser()
        state = self.session_state(host)
        context = await browser.new_context(
            user_agent=self.catalog.user_agent,
            service_workers="block",
            storage_state=str(state) if state else None,
            viewport={"width": 900, "height": 1200},
            java_script_enabled=True,
            accept_downloads=False,
        )
        context.set_default_timeout(self.catalog.fetch_timeout * 1000)
        router = BrowserRequestGuard(self.guard)
        await router.install(context)
        try:
            yield Routed(context, router, self.proxy, self._pages)
        finally:
            await context.close()

    async def aclose(self) -> None:
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None
        await self.proxy.aclose()
        if self.sandbox is not None:
            self.sandbox.cleanup()


class Routed:
    """A job's browser context: borrow pages with ``async with routed.page() as page``."""

    def __init__(
        self,
        context: BrowserContext,
        router: BrowserRequestGuard,
        proxy: EgressProxy,
        pages: asyncio.Semaphore,
    ) -> None:
        self.context = context
        self.router = router
        self.proxy = proxy
        self._pages = pages

    def refusals(self) -> int:
        """Requests refused so far, by the router and the egress proxy (the proxy's count
        is the pool's: with scrapes side by side it may include a neighbour's)."""
        return sum(self.router.refused.values()) + sum(self.proxy.refused.values())

    def reasons(self) -> str:
        return ", ".join([*self.router.refused, *self.proxy.refused])

    @staticmethod
    def refused_reason(headers: dict[str, str]) -> str | None:
        """The egress proxy's reason when a response is its refusal, else None."""
        return headers.get(REFUSED_HEADER.lower())

    @asynccontextmanager
    async def page(self) -> AsyncIterator[Page]:
        async with self._pages:
            page = await self.context.new_page()
            try:
                yield page
            finally:
                await page.close()
