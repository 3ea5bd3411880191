"""Shop platforms whose whole catalog is public JSON: which one a URL or page is, where
its catalog API lives, and reading that API page by page through the SafeFetcher.

Shopify serves ``/products.json?limit=250&page=N`` on every store; WooCommerce serves the
Store API ``/wp-json/wc/store/v1/products?per_page=100&page=N``. A URL says so by itself
(``*.myshopify.com``, a ``/products.json`` or ``/wp-json/wc/store`` path); any other shop
page says so in its markup (Shopify's CDN and ``Shopify.routes.root``; WooCommerce's
plugin assets and WordPress's ``api.w.org`` discovery link), which the storefront source
checks before reading the page itself.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from pipeline.errors import PermanentError
from pipeline.fetch import SafeFetcher
from pipeline.sources.base import SourceKind

JSON_ACCEPT = "application/json"
SHOPIFY_PAGE_SIZE = 250
WOO_PAGE_SIZE = 100
WOO_PRODUCTS = "wc/store/v1/products"
# Path parts that are pages inside a shop, not the shop's root.
_SHOPIFY_INNER = re.compile(r"/(?:products(?:\.json|/.*)?|collections/.*|pages/.*|cart.*)$")
_WOO_INNER = re.compile(r"/(?:wp-json/.*|product/.*|shop/?.*|product-category/.*|cart/?)$")
_SHOPIFY_MARKERS = re.compile(
    r"cdn\.shopify\.com|Shopify\.theme\b|window\.Shopify\b|shopify-features|myshopify\.com"
)
_SHOPIFY_ROOT = re.compile(r"Shopify\.routes\.root\s*=\s*[\"']([^\"'<>]{1,200})[\"']")
_WOO_MARKERS = re.compile(
    r"/wp-content/plugins/woocommerce/|class=[\"'][^\"']*\bwoocommerce(?:-page)?\b|"
    r"<meta[^>]+content=[\"']WooCommerce"
)
_WP_API_LINK = re.compile(
    r"<link[^>]+rel=[\"']https://api\.w\.org/[\"'][^>]*href=[\"']([^\"'<>]{1,500})[\"']"
)


@dataclass(frozen=True)
class Platform:
    """A platform's catalog API for one shop: ``kind`` and the URL of its product list."""

    kind: SourceKind
    api_url: str  # products.json, or the Store API's products endpoint


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _root(url: str, inner: re.Pattern[str]) -> str:
    parts = urlsplit(url)
    path = inner.sub("", parts.path.rstrip("/")) if parts.path else ""
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


def shopify_products_url(url: str) -> str:
    """The store's ``products.json`` for any URL inside the store."""
    return _root(url, _SHOPIFY_INNER) + "/products.json"


def woo_products_url(url: str) -> str:
    """The store's Store API products endpoint for any URL inside the shop."""
    parts = urlsplit(url)
    if "/wp-json/" in parts.path:
        base = parts.path.split("/wp-json/", 1)[0]
        return urlunsplit((parts.scheme, parts.netloc, f"{base}/wp-json/{WOO_PRODUCTS}", "", ""))
    return _root(url, _WOO_INNER) + f"/wp-json/{WOO_PRODUCTS}"


def platform_of_url(host: str, path: str) -> SourceKind | None:
    """The platform a URL names by itself, without fetching it."""
    if host.endswith(".myshopify.com") or path.rstrip("/").endswith("/products.json"):
        return SourceKind.SHOPIFY
    if "/wp-json/wc/store" in path:
        return SourceKind.WOOCOMMERCE
    return None


def platform_of_page(page: str, page_url: str) -> Platform | None:
    """The platform a fetched shop page is built on, from its markup; None for others."""
    head = page[:400_000]
    if _SHOPIFY_MARKERS.search(head):
        root = _SHOPIFY_ROOT.search(head)
        base = urljoin(_origin(page_url) + "/", root.group(1)) if root else _origin(page_url)
        return Platform(SourceKind.SHOPIFY, base.rstrip("/") + "/products.json")
    if _WOO_MARKERS.search(head):
        link = _WP_API_LINK.search(head)
        api = urljoin(page_url, link.group(1)) if link else woo_products_url(page_url)
        if link:
            api = api.rstrip("/") + "/" + WOO_PRODUCTS
        return Platform(SourceKind.WOOCOMMERCE, api)
    return None


async def json_pages(
    fetcher: SafeFetcher, url: str, size_param: str, size: int, max_items: int
) -> AsyncIterator[list[Any]]:
    """The lists a paginated catalog endpoint returns, ``page=1, 2, ...`` until a short or
    empty page, the server's ``X-WP-TotalPages``, or ``max_items``. Raises PermanentError
    when an answer is not a JSON list (or ``{"products": [...]}``), else like the fetcher."""
    seen = 0
    page = 1
    sep = "&" if "?" in url else "?"
    while seen < max_items:
        result = await fetcher.fetch(
            f"{url}{sep}{size_param}={size}&page={page}", accept=JSON_ACCEPT
        )
        data = result.json()
        items = data.get("products") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise PermanentError(f"{url[:200]} did not return a product list")
        if items:
            yield items
        seen += len(items)
        total_pages = result.headers.get("x-wp-totalpages", "")
        if len(items) < size or (total_pages.isdigit() and page >= int(total_pages)):
            return
        page += 1
