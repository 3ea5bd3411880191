"""Meta's Graph Catalog API: the official route for sellers who grant us a token.

``GET {graph_base_url}/{catalog_id}/products?fields=...`` with the token as a Bearer
header, following ``paging.next`` (through the SafeFetcher, like every URL a server hands
us). Graph errors are mapped by code: an invalid or expired token (190, 102, 463, 467) and
permission or parameter errors are permanent; throttling (4, 17, 32, 613, 80000-80014)
and transient errors (1, 2) are retryable, with the wait Meta announces in
``X-Business-Use-Case-Usage`` / ``X-App-Usage`` or ``Retry-After`` as the delay.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from pipeline.errors import BackendUnavailable, PermanentError, RetryableError
from pipeline.fetch import FetchResult, SafeFetcher, retry_after_seconds, split_url
from pipeline.settings import CatalogSettings
from pipeline.sources.assemble import assemble
from pipeline.sources.base import ScrapeResult, SourceKind
from pipeline.sources.normalize import RawProduct

logger = logging.getLogger(__name__)

FIELDS = (
    "id,retailer_id,name,description,price,currency,image_url,additional_image_urls,"
    "availability,url"
)
PAGE_SIZE = 100
MAX_PAGES = 1000
TOKEN_CODES = frozenset({102, 190, 463, 467})
RATE_CODES = frozenset({4, 17, 32, 341, 613}) | frozenset(range(80000, 80015))
TRANSIENT_CODES = frozenset({1, 2})
_CATALOG_ID = re.compile(r"^\d{1,30}$")


def catalog_id_from(url: str, base_url: str) -> str:
    """The catalog id in ``<base>/<id>[/products]``, ``graph.facebook.com/<v>/<id>`` or a
    bare numeric id. Raises PermanentError when there is none."""
    if _CATALOG_ID.match(url.strip()):
        return url.strip()
    path = urlsplit(url).path
    base_path = urlsplit(base_url).path.rstrip("/")
    if base_path and path.startswith(base_path + "/"):
        path = path[len(base_path) :]
    parts = [p for p in path.split("/") if p]
    if parts and re.fullmatch(r"v\d+(\.\d+)?", parts[0]):
        parts = parts[1:]
    if parts and parts[-1] == "products":
        parts = parts[:-1]
    if len(parts) == 1 and _CATALOG_ID.match(parts[0]):
        return parts[0]
    raise PermanentError(f"{url[:200]} names no catalog: expected {base_url}/<catalog_id>/products")


def _usage_delay(headers: dict[str, str]) -> float | None:
    """Minutes until access is regained, from Meta's usage headers, in seconds."""
    for name in ("x-business-use-case-usage", "x-ad-account-usage", "x-app-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            usage = json.loads(raw)
        except ValueError:
            continue
        entries = (
            [e for v in usage.values() for e in (v if isinstance(v, list) else [v])]
            if isinstance(usage, dict)
            else []
        )
        waits = [e.get("estimated_time_to_regain_access") for e in entries if isinstance(e, dict)]
        minutes = [w for w in waits if isinstance(w, int | float) and w > 0]
        if minutes:
            return float(max(minutes)) * 60
    return None


def graph_error(result: FetchResult) -> Exception:
    """The project error for a Graph API error answer."""
    try:
        error = json.loads(result.content).get("error", {})
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    code = error.get("code")
    message = str(error.get("message", ""))[:300] or f"HTTP {result.status}"
    where = f"Graph API {result.status} (code {code}): {message}"
    delay = _usage_delay(result.headers) or retry_after_seconds(result.headers.get("retry-after"))
    if code in TOKEN_CODES:
        return PermanentError(f"{where}; the seller must grant a new access token")
    if code in RATE_CODES or result.status == 429:
        return RetryableError(f"{where}; rate limited", delay=delay if delay else 60.0)
    if code in TRANSIENT_CODES or result.status >= 500 or error.get("is_transient"):
        return BackendUnavailable(where, delay=delay)
    return PermanentError(where)


class GraphCatalogSource:
    """Reads a catalog through the Graph API. Needs ``CATALOG_GRAPH_TOKEN`` (or a token
    given to the constructor); raises PermanentError without one."""

    kind = SourceKind.GRAPH

    def __init__(
        self, catalog: CatalogSettings, fetcher: SafeFetcher, *, token: str | None = None
    ) -> None:
        self.catalog = catalog
        self.fetcher = fetcher
        secret = catalog.graph_token.get_secret_value() if catalog.graph_token else None
        self.token = token or secret
        self.base_url = str(catalog.graph_base_url).rstrip("/")

    async def scrape(self, url: str, seller_id: str) -> ScrapeResult:
        if not self.token:
            raise PermanentError("the Graph API needs an access token: set CATALOG_GRAPH_TOKEN")
        catalog_id = catalog_id_from(url, self.base_url)
        query = urlencode({"fields": FIELDS, "limit": PAGE_SIZE})
        first = f"{self.base_url}/{catalog_id}/products?{query}"
        split_url(first)
        next_url: str | None = first
        raws: list[RawProduct] = []
        pages = 0
        while next_url and pages < MAX_PAGES and len(raws) < self.catalog.max_products:
            body = await self._page(next_url)
            pages += 1
            data = body.get("data")
            if not isinstance(data, list):
                raise PermanentError(f"Graph API answer for {catalog_id} has no data list")
            raws.extend(self._raw(item) for item in data if isinstance(item, dict))
            paging = body.get("paging")
            next_url = paging.get("next") if isinstance(paging, dict) else None
            if next_url is not None and not isinstance(next_url, str):
                next_url = None
        logger.info("graph catalog %s: %d products in %d pages", catalog_id, len(raws), pages)
        return await assemble(
            raws,
            seller_id=seller_id,
            source_url=f"{self.base_url}/{catalog_id}/products",
            kind=self.kind,
            fetcher=self.fetcher if self.catalog.verify_images else None,
            max_products=self.catalog.max_products,
        )

    async def _page(self, url: str) -> dict[str, Any]:
        result = await self.fetcher.fetch(
            url,
            accept="application/json",
            headers={"Authorization": f"Bearer {self.token}"},
            raise_for_status=False,
        )
        if result.status != 200:
            raise graph_error(result)
        body = result.json()
        if not isinstance(body, dict):
            raise PermanentError("Graph API answered something other than a JSON object")
        if "error" in body:
            raise graph_error(result)
        return body

    @staticmethod
    def _raw(item: dict[str, Any]) -> RawProduct:
        images = [item.get("image_url")]
        extra = item.get("additional_image_urls")
        if isinstance(extra, list):
            images.extend(extra)
        return RawProduct(
            name=item.get("name"),
            retailer_id=item.get("retailer_id") or item.get("id"),
            description=item.get("description"),
            price_text=item.get("price"),
            currency=item.get("currency") if isinstance(item.get("currency"), str) else None,
            image_urls=[u for u in images if isinstance(u, str)],
            availability=item.get("availability"),
            url=item.get("url") if isinstance(item.get("url"), str) else None,
        )
