"""What the sample site serves, rendered from the catalog: pages, JSON, feeds, Graph API.

One seller's catalog is served five ways, so every catalog source can read the same
products: the WhatsApp-style page (``/c/<phone>``, JS list + ``/p/<phone>/<id>`` details),
a storefront with schema.org data (``/shop/<phone>``), feeds (``/feed/<phone>.csv|.tsv|
.json|.jsonl``) and the Graph Catalog API's JSON (``/graph/v21.0/<catalog_id>/products``).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
from typing import Any

from pipeline.records import Availability
from pipeline.sample_site.catalog import SampleProduct, SampleSeller, format_price

_SCHEMA_AVAILABILITY = {
    Availability.IN_STOCK: "https://schema.org/InStock",
    Availability.OUT_OF_STOCK: "https://schema.org/OutOfStock",
    Availability.PREORDER: "https://schema.org/PreOrder",
    Availability.UNKNOWN: "",
}
_FEED_AVAILABILITY = {
    Availability.IN_STOCK: "in stock",
    Availability.OUT_OF_STOCK: "out of stock",
    Availability.PREORDER: "preorder",
    Availability.UNKNOWN: "",
}


def image_urls(base: str, phone: str, product: SampleProduct) -> list[str]:
    return [f"{base}/img/{phone}/{key}.jpg" for key in product.image_keys()]


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _json_script(data: Any, kind: str = "application/json", attrs: str = "") -> str:
    # "</" inside a script would end it early; JSON allows "<\/".
    body = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="{kind}"{attrs}>{body}</script>'


def _page(title: str, body: str, head: str = "") -> bytes:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}'
        f"</title>{head}</head><body>{body}</body></html>"
    ).encode()


def index_page(sellers: list[SampleSeller]) -> bytes:
    rows = "".join(
        f"<li>{_esc(s.name)} ({s.currency}, {len(s.products)} products): "
        f'<a href="/c/{s.phone}">catalog</a> · <a href="/shop/{s.phone}">shop</a> · '
        f'<a href="/feed/{s.phone}.csv">csv</a> · <a href="/feed/{s.phone}.jsonl">jsonl</a> · '
        f"graph catalog id {s.catalog_id}</li>"
        for s in sellers
    )
    return _page("Sample catalogs", f"<h1>Sample catalogs</h1><ul>{rows}</ul>")


def catalog_api(seller: SampleSeller, base: str, offset: int, limit: int) -> dict[str, Any]:
    """One page of the WhatsApp-style list, as the page's script fetches it."""
    window = seller.products[offset : offset + limit]
    end = offset + len(window)
    return {
        "seller": seller.name,
        "products": [
            {
                "id": p.retailer_id,
                "name": p.name,
                "price": format_price(p.price, p.currency),
                "thumbnail": image_urls(base, seller.phone, p)[0],
                "url": f"/p/{seller.phone}/{p.retailer_id}",
            }
            for p in window
        ],
        "next_offset": end if end < len(seller.products) else None,
    }


def detail_page(seller: SampleSeller, product: SampleProduct, base: str) -> bytes:
    """A product page rendered in the browser from data inlined in the page."""
    data = {
        "id": product.retailer_id,
        "name": product.name,
        "price": format_price(product.price, product.currency),
        "description": product.description,
        "images": image_urls(base, seller.phone, product),
        "availability": _FEED_AVAILABILITY[product.availability] or "unknown",
        "seller": seller.name,
    }
    script = """<script>
(function () {
  const d = JSON.parse(document.getElementById("product-data").textContent);
  const root = document.createElement("section");
  root.setAttribute("data-testid", "product-detail");
  root.setAttribute("data-retailer-id", d.id);
  const el = (tag, testid, text) => {
    const e = document.createElement(tag);
    e.setAttribute("data-testid", testid);
    if (text !== undefined) e.textContent = text;
    root.append(e);
    return e;
  };
  el("h1", "product-title", d.name);
  el("div", "product-price", d.price);
  el("p", "product-description", d.description);
  el("div", "product-availability", d.availability);
  for (const src of d.images) el("img", "product-image").src = src;
  document.body.append(root);
})();
</script>"""
    return _page(
        product.name or "Product",
        _json_script(data, attrs=' id="product-data"') + script,
    )


def shop_index(seller: SampleSeller, base: str) -> bytes:
    """A storefront listing: a schema.org ItemList of product page URLs."""
    items = [
        {
            "@type": "ListItem",
            "position": i + 1,
            "url": f"{base}/shop/{seller.phone}/{p.retailer_id}",
        }
        for i, p in enumerate(seller.products)
    ]
    data = {"@context": "https://schema.org", "@type": "ItemList", "itemListElement": items}
    links = "".join(
        f'<li><a href="/shop/{seller.phone}/{p.retailer_id}">{_esc(p.name)}</a></li>'
        for p in seller.products
    )
    return _page(
        seller.name,
        f"<h1>{_esc(seller.name)}</h1><ul>{links}</ul>",
        head=_site_name(seller) + _json_script(data, "application/ld+json"),
    )


def _site_name(seller: SampleSeller) -> str:
    return f'<meta property="og:site_name" content="{_esc(seller.name)}">'


def shop_product(seller: SampleSeller, product: SampleProduct, base: str, index: int) -> bytes:
    """A storefront product page: JSON-LD on even positions, microdata on odd ones,
    OpenGraph on all (as real shops mix them)."""
    images = image_urls(base, seller.phone, product)
    availability = _SCHEMA_AVAILABILITY[product.availability]
    og = (
        f'<meta property="og:type" content="product"><meta property="og:title" '
        f'content="{_esc(product.name)}"><meta property="og:image" content="{_esc(images[0])}">'
        f'<meta property="product:price:amount" content="{product.price}">'
        f'<meta property="product:price:currency" content="{product.currency}">'
        + _site_name(seller)
    )
    if index % 2 == 0:
        data = {
            "@context": "https://schema.org/",
            "@type": "Product",
            "name": product.name,
            "sku": product.retailer_id,
            "description": product.description,
            "image": images if len(images) > 1 else images[0],
            "offers": {
                "@type": "Offer",
                "price": str(product.price),
                "priceCurrency": product.currency,
                "availability": availability,
            },
        }
        body = f"<h1>{_esc(product.name)}</h1>"
        return _page(product.name, body, head=og + _json_script(data, "application/ld+json"))
    imgs = "".join(f'<img itemprop="image" src="{_esc(u)}" alt="">' for u in images)
    body = (
        '<div itemscope itemtype="https://schema.org/Product">'
        f'<h1 itemprop="name">{_esc(product.name)}</h1>{imgs}'
        f'<meta itemprop="sku" content="{_esc(product.retailer_id)}">'
        f'<p itemprop="description">{_esc(product.description)}</p>'
        '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
        f'<span itemprop="priceCurrency" content="{product.currency}"></span>'
        f'<span itemprop="price" content="{product.price}">'
        f"{_esc(format_price(product.price, product.currency))}</span>"
        f'<link itemprop="availability" href="{availability}"></div></div>'
    )
    return _page(product.name, body, head=og)


def _feed_rows(seller: SampleSeller, base: str) -> list[dict[str, str]]:
    rows = []
    for p in seller.products:
        images = image_urls(base, seller.phone, p)
        rows.append(
            {
                "id": p.retailer_id,
                "title": p.name,
                "description": p.description,
                "availability": _FEED_AVAILABILITY[p.availability],
                "condition": "new",
                "price": f"{p.price:.2f} {p.currency}",
                "link": f"{base}/shop/{seller.phone}/{p.retailer_id}",
                "image_link": images[0],
                "additional_image_link": ",".join(images[1:]),
                "brand": seller.name,
            }
        )
    return rows


def feed(seller: SampleSeller, base: str, fmt: str) -> tuple[bytes, str]:
    """The seller's feed: Meta Commerce Manager columns in CSV/TSV/JSONL, Google Merchant
    (Content API) shape in JSON. Returns (body, content type)."""
    rows = _feed_rows(seller, base)
    if fmt in ("csv", "tsv"):
        out = io.StringIO()
        writer = csv.DictWriter(
            out,
            fieldnames=list(rows[0]) if rows else ["id"],
            delimiter="," if fmt == "csv" else "\t",
        )
        writer.writeheader()
        writer.writerows(rows)
        kind = "text/csv" if fmt == "csv" else "text/tab-separated-values"
        return out.getvalue().encode(), f"{kind}; charset=utf-8"
    if fmt == "jsonl":
        body = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
        return body.encode(), "application/x-ndjson"
    google = [
        {
            "offerId": r["id"],
            "title": r["title"],
            "description": r["description"],
            "link": r["link"],
            "imageLink": r["image_link"],
            "additionalImageLinks": [u for u in r["additional_image_link"].split(",") if u],
            "availability": r["availability"],
            "price": {"value": r["price"].split()[0], "currency": r["price"].split()[1]},
        }
        for r in rows
    ]
    return json.dumps({"resources": google}, ensure_ascii=False).encode(), "application/json"


def graph_products(
    seller: SampleSeller, base: str, after: int, limit: int, next_base: str
) -> dict[str, Any]:
    """``GET /{catalog_id}/products`` as the Graph API answers it, with cursor paging."""
    window = seller.products[after : after + limit]
    data = []
    for p in window:
        images = image_urls(base, seller.phone, p)
        item: dict[str, Any] = {
            "id": str(int(hashlib.sha256(p.retailer_id.encode()).hexdigest()[:13], 16)),
            "retailer_id": p.retailer_id,
            "name": p.name,
            "description": p.description,
            "price": format_price(p.price, p.currency),
            "currency": p.currency,
            "image_url": images[0],
            "availability": _FEED_AVAILABILITY[p.availability],
            "url": f"{base}/shop/{seller.phone}/{p.retailer_id}",
        }
        if len(images) > 1:
            item["additional_image_urls"] = images[1:]
        data.append(item)
    body: dict[str, Any] = {"data": data}
    end = after + len(window)
    cursors = {"before": f"c{after}", "after": f"c{end}"}
    body["paging"] = {"cursors": cursors}
    if end < len(seller.products):
        body["paging"]["next"] = f"{next_base}&after=c{end}&limit={limit}"
    return body
