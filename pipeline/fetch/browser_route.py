"""What a scraping context may ask for, decided before Chromium sends it.

The network door is the egress proxy (:mod:`pipeline.fetch.egress_proxy`): every byte
Chromium sends goes through it, every hop checked and pinned. This router sits in front
of it inside the browser, for what only the browser knows: it drops resource types a
scraper never needs (images are downloaded by the SafeFetcher), refuses WebSockets and
non-http(s) schemes, and checks each URL with the guard so a refusal carries its reason
to the scraper early. Allowed requests continue in Chromium, out through the proxy;
redirect hops never come back here (Playwright does not route them) but do go through
the proxy. WebRTC is handled by launch flags and :data:`NO_WEBRTC_JS`.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pipeline.errors import CatalogSyncError
from pipeline.fetch.guard import UrlGuard

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Route, WebSocketRoute

logger = logging.getLogger(__name__)

# Resource types a scraper never needs: images are downloaded through the SafeFetcher.
SKIPPED_RESOURCES = frozenset({"image", "media", "font", "websocket", "manifest", "other"})
_LOCAL_SCHEMES = ("data", "blob", "about")

# Run in every frame before the page's scripts: WebRTC's peer connections reach addresses
# over UDP and TCP that no HTTP proxy sees. The launch flags already keep WebRTC off
# non-proxied UDP; removing the constructors keeps a catalog page from trying at all.
NO_WEBRTC_JS = """(() => {
  for (const name of ["RTCPeerConnection", "webkitRTCPeerConnection", "RTCDataChannel",
                      "RTCIceCandidate", "RTCSessionDescription", "RTCRtpSender",
                      "RTCRtpReceiver", "RTCRtpTransceiver", "RTCDtlsTransport",
                      "RTCIceTransport", "RTCSctpTransport", "RTCCertificate"]) {
    try { delete window[name]; } catch (e) {}
    try { Object.defineProperty(window, name, {value: undefined, configurable: false}); }
    catch (e) {}
  }
})();"""


class BrowserRequestGuard:
    """Routes a context's requests past the guard. ``refused`` counts refusals by reason."""

    def __init__(self, guard: UrlGuard, *, skip_resources: frozenset[str] = SKIPPED_RESOURCES):
        self.guard = guard
        self.skip_resources = skip_resources
        self.refused: Counter[str] = Counter()
        self.requests = 0

    async def install(self, context: BrowserContext) -> None:
        await context.add_init_script(NO_WEBRTC_JS)
        await context.route("**/*", self.handle)
        await context.route_web_socket("**/*", self._refuse_socket)

    async def _refuse_socket(self, ws: WebSocketRoute) -> None:
        self.refused["websocket"] += 1
        await ws.close(code=1008, reason="websockets are not allowed while scraping")

    async def handle(self, route: Route) -> None:
        """Refuse what the guard refuses; let the rest go on to the egress proxy."""
        request = route.request
        url = request.url
        if urlsplit(url).scheme in _LOCAL_SCHEMES:
            await route.continue_()
            return
        if request.resource_type in self.skip_resources:
            await route.abort("blockedbyclient")
            return
        try:
            await self.guard.check(url)
        except CatalogSyncError as exc:
            await self._refuse(route, url, str(exc))
            return
        self.requests += 1
        await route.continue_()

    async def _refuse(self, route: Route, url: str, reason: str) -> None:
        logger.info("browser request refused: %s (%s)", url[:200], reason)
        self.refused[reason.split(":", 1)[0][:100]] += 1
        await route.abort("blockedbyclient")
