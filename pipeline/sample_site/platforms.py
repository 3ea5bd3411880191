"""The sample sellers as a Shopify store and as a WooCommerce shop: a home page with each
platform's markers and its public catalog JSON, in the platforms' wire formats.

Shopify (``/shopify/<phone>/``): ``products.json?limit=&page=`` (two variants a product:
the standard one at the product's price, available unless the product is out of stock,
and a larger one 20 % dearer and always available; every third product on sale with a
``compare_at_price``) and ``meta.json`` with the store's name and currency. WooCommerce
(``/woo/<phone>/``): the Store API's ``wp-json/wc/store/v1/products?per_page=&page=`` with
prices in minor units, ``X-WP-Total`` and ``X-WP-TotalPages``, and WordPress's index
``wp-json/`` with the site's name.
"""

from __future__ import annotations

import hashlib
import html
from decimal import Decimal
from typing import Any

from pipeline.records import Availability
from pipeline.sample_site.catalog import SampleProduct, SampleSeller
from pipeline.sample_site.pages import image_urls

MAX_SHOPIFY_LIMIT = 250
MAX_WOO_PER_PAGE = 100


def _id(product: SampleProduct) -> int:
    return int(hashlib.sha256(product.retailer_id.encode()).hexdigest()[:12], 16)


def _home(seller: SampleSeller, head: str, body_class: str) -> bytes:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(seller.name)}'
        f'</title>{head}</head><body class="{body_class}"><h1>{html.escape(seller.name)}</h1>'
        f"<p>{len(seller.products)} products</p></body></html>"
    ).encode()


def shopify_home(seller: SampleSeller, base: str) -> bytes:
    root = f"/shopify/{seller.phone}/"
    head = (
        '<link rel="preconnect" href="https://cdn.shopify.com">'
        f'<script>window.Shopify = window.Shopify || {{}}; Shopify.shop = "{seller.phone}'
        f'.myshopify.com"; Shopify.routes = {{}}; Shopify.routes.root = "{root}";</script>'
    )
    return _home(seller, head, "template-index")


def _shopify_product(seller: SampleSeller, product: SampleProduct, base: str, n: int) -> Any:
    in_stock = product.availability != Availability.OUT_OF_STOCK
    large = (product.price * Decimal("1.2")).quantize(Decimal("0.01"))
    on_sale = n % 3 == 2
    return {
        "id": _id(product),
        "title": product.name,
        "handle": product.retailer_id,
        "body_html": f"<p>{html.escape(product.description)}</p>",
        "vendor": seller.name,
        "product_type": "",
        "variants": [
            {
                "id": _id(product) * 10 + 1,
                "title": "Standard",
                "sku": product.retailer_id,
                "price": f"{product.price:.2f}",
                "compare_at_price": f"{product.price * 2:.2f}" if on_sale else None,
                "available": in_stock,
                "position": 1,
            },
            {
                "id": _id(product) * 10 + 2,
                "title": "Large",
                "sku": f"{product.retailer_id}-L",
                "price": f"{large:.2f}",
                "compare_at_price": None,
                "available": in_stock,
                "position": 2,
            },
        ],
        "images": [
            {"id": _id(product) * 100 + i, "src": url, "position": i + 1}
            for i, url in enumerate(image_urls(base, seller.phone, product))
        ],
    }


def shopify_products(seller: SampleSeller, base: str, page: int, limit: int) -> dict[str, Any]:
    limit = min(MAX_SHOPIFY_LIMIT, max(1, limit))
    start = (max(1, page) - 1) * limit
    chunk = seller.products[start : start + limit]
    return {"products": [_shopify_product(seller, p, base, start + n) for n, p in enumerate(chunk)]}


def shopify_meta(seller: SampleSeller) -> dict[str, Any]:
    return {"name": seller.name, "currency": seller.currency, "country": "US"}


def wp_index(seller: SampleSeller, base: str) -> dict[str, Any]:
    """WordPress's REST index (``/wp-json/``): the site's name and its API namespaces."""
    home = f"{base}/woo/{seller.phone}"
    return {"name": seller.name, "description": "", "url": home, "home": home,
            "namespaces": ["wp/v2", "wc/store/v1"]}  # fmt: skip


def woo_home(seller: SampleSeller, base: str) -> bytes:
    api = f"{base}/woo/{seller.phone}/wp-json/"
    head = (
        f'<link rel="https://api.w.org/" href="{api}">'
        '<meta name="generator" content="WooCommerce 8.5.2">'
        f'<link rel="stylesheet" href="{base}/woo/{seller.phone}/wp-content/plugins/'
        'woocommerce/assets/css/woocommerce.css">'
    )
    return _home(seller, head, "home woocommerce-page woocommerce-js")


def _woo_product(seller: SampleSeller, product: SampleProduct, base: str, n: int) -> Any:
    cents = int(product.price * 100)
    on_sale = n % 3 == 2
    return {
        "id": _id(product),
        "name": html.escape(product.name),  # the Store API sends names HTML-escaped
        "slug": product.retailer_id,
        "permalink": f"{base}/woo/{seller.phone}/product/{product.retailer_id}/",
        "sku": product.retailer_id,
        "short_description": f"<p>{html.escape(product.description)}</p>",
        "description": f"<p>{html.escape(product.description)}</p>",
        "on_sale": on_sale,
        "prices": {
            "price": str(cents),
            "regular_price": str(cents * 2 if on_sale else cents),
            "sale_price": str(cents),
            "price_range": None,
            "currency_code": seller.currency,
            "currency_minor_unit": 2,
        },
        "images": [
            {"id": n, "src": url, "thumbnail": url, "alt": ""}
            for url in image_urls(base, seller.phone, product)
        ],
        "is_in_stock": product.availability != Availability.OUT_OF_STOCK,
        "is_purchasable": True,
        "type": "simple",
    }


def woo_products(
    seller: SampleSeller, base: str, page: int, per_page: int
) -> tuple[list[Any], int, int]:
    """(products, total, total pages) for one Store API page."""
    per_page = min(MAX_WOO_PER_PAGE, max(1, per_page))
    start = (max(1, page) - 1) * per_page
    chunk = seller.products[start : start + per_page]
    total = len(seller.products)
    pages = max(1, -(-total // per_page))
    return [_woo_product(seller, p, base, start + n) for n, p in enumerate(chunk)], total, pages
