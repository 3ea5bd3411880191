"""Shopify and WooCommerce catalogs from their public JSON (see :mod:`platform`).

One product per listing. Shopify: the price is the lowest among the variants that are
available; when none is, the product is out of stock and priced at its lowest variant.
A variant's ``price`` is what it sells for (a sale price when ``compare_at_price`` is
higher). WooCommerce's Store API lists a variable product with its price range and stock
but not each variation's stock: the price is the range's low end (the sale price when on
sale), the availability the product's ``is_in_stock``. Amounts come in minor units there.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from pipeline.errors import PermanentError
from pipeline.fetch import SafeFetcher
from pipeline.settings import CatalogSettings
from pipeline.sources.assemble import assemble
from pipeline.sources.base import ScrapeResult, SourceKind
from pipeline.sources.normalize import RawProduct
from pipeline.sources.platform import (
    JSON_ACCEPT,
    SHOPIFY_PAGE_SIZE,
    WOO_PAGE_SIZE,
    json_pages,
    shopify_products_url,
    woo_products_url,
)
from pipeline.sources.shop_name import clean_name, json_name

logger = logging.getLogger(__name__)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _images(items: Any) -> list[str]:
    if not isinstance(items, list):
        return []
    urls = [i.get("src") for i in items if isinstance(i, dict)]
    return [u for u in urls if isinstance(u, str)][:20]


def shopify_raw(product: dict[str, Any], store: str, currency: str | None) -> RawProduct:
    """One Shopify listing (a ``products.json`` entry) as a RawProduct."""
    variants = [v for v in product.get("variants") or [] if isinstance(v, dict)]
    priced = [(p, v) for v in variants if (p := _decimal(v.get("price"))) is not None]
    available = [pv for pv in priced if pv[1].get("available") is True]
    chosen = min(available or priced, key=lambda pv: pv[0], default=None)
    handle = product.get("handle")
    return RawProduct(
        name=product.get("title") if isinstance(product.get("title"), str) else None,
        retailer_id=str(product["id"]) if isinstance(product.get("id"), int | str) else None,
        description=product.get("body_html") if isinstance(product.get("body_html"), str) else "",
        price_amount=str(chosen[0]) if chosen else None,
        currency=currency,
        image_urls=_images(product.get("images")),
        availability=("InStock" if available else "OutOfStock") if priced else None,
        url=f"{store}/products/{handle}" if isinstance(handle, str) and handle else None,
    )


def woo_raw(product: dict[str, Any]) -> RawProduct:
    """One WooCommerce Store API product as a RawProduct."""
    prices = _dict(product.get("prices"))
    minor = prices.get("currency_minor_unit", 2)
    scale = Decimal(10) ** (minor if isinstance(minor, int) and 0 <= minor <= 4 else 2)
    amount = _decimal(_dict(prices.get("price_range")).get("min_amount") or prices.get("price"))
    currency = prices.get("currency_code")
    sku = product.get("sku")
    ident = sku if isinstance(sku, str) and sku.strip() else product.get("id")
    description = product.get("short_description") or product.get("description")
    stock = product.get("is_in_stock")
    return RawProduct(
        name=product.get("name") if isinstance(product.get("name"), str) else None,
        retailer_id=str(ident) if isinstance(ident, int | str) and str(ident) else None,
        description=description if isinstance(description, str) else "",
        price_amount=str(amount / scale) if amount is not None else None,
        currency=currency if isinstance(currency, str) else None,
        image_urls=_images(product.get("images")),
        availability=None if stock is None else ("InStock" if stock else "OutOfStock"),
        url=product.get("permalink") if isinstance(product.get("permalink"), str) else None,
    )


class ShopifyCatalogSource:
    """A Shopify store's catalog from ``products.json``. Raises PermanentError when the
    store does not serve it (a 404, or not JSON)."""

    kind = SourceKind.SHOPIFY

    def __init__(self, catalog: CatalogSettings, fetcher: SafeFetcher) -> None:
        self.catalog = catalog
        self.fetcher = fetcher

    async def _meta(self, store: str) -> tuple[str | None, str | None]:
        """The store's currency and name from ``/meta.json`` (``products.json`` says
        neither)."""
        try:
            data = (await self.fetcher.fetch(f"{store}/meta.json", accept=JSON_ACCEPT)).json()
        except PermanentError as exc:
            logger.info("shopify %s: no currency from meta.json: %s", store[:200], exc)
            return None, None
        if not isinstance(data, dict):
            return None, None
        currency = data.get("currency")
        return (currency if isinstance(currency, str) else None), clean_name(data.get("name"))

    async def scrape(self, url: str, seller_id: str) -> ScrapeResult:
        api = shopify_products_url(url)
        store = api.removesuffix("/products.json")
        currency, name = await self._meta(store)
        raws: list[RawProduct] = []
        limit = self.catalog.max_products + 1  # one more: the cut is reported as skipped
        async for items in json_pages(self.fetcher, api, "limit", SHOPIFY_PAGE_SIZE, limit):
            raws += [shopify_raw(p, store, currency) for p in items if isinstance(p, dict)]
        logger.info("shopify %s: %d listings", store[:200], len(raws))
        result = await assemble(
            raws,
            seller_id=seller_id,
            source_url=store + "/",
            kind=self.kind,
            fetcher=self.fetcher if self.catalog.verify_images else None,
            max_products=self.catalog.max_products,
        )
        result.seller_name, result.shop_url = name, store + "/"
        return result


class WooCommerceCatalogSource:
    """A WooCommerce shop's catalog from the Store API. Raises PermanentError when the
    shop does not serve it."""

    kind = SourceKind.WOOCOMMERCE

    def __init__(self, catalog: CatalogSettings, fetcher: SafeFetcher) -> None:
        self.catalog = catalog
        self.fetcher = fetcher

    async def scrape(self, url: str, seller_id: str) -> ScrapeResult:
        api = woo_products_url(url)
        raws: list[RawProduct] = []
        limit = self.catalog.max_products + 1
        async for items in json_pages(self.fetcher, api, "per_page", WOO_PAGE_SIZE, limit):
            raws += [woo_raw(p) for p in items if isinstance(p, dict)]
        logger.info("woocommerce %s: %d products", api[:200], len(raws))
        shop = api.split("/wp-json/", 1)[0] + "/"
        result = await assemble(
            raws,
            seller_id=seller_id,
            source_url=shop,
            kind=self.kind,
            fetcher=self.fetcher if self.catalog.verify_images else None,
            max_products=self.catalog.max_products,
        )
        # WordPress's REST index names the site.
        result.seller_name, result.shop_url = await json_name(self.fetcher, shop + "wp-json/"), shop
        return result
