"""Products in a shop's HTML, from every format at once: JSON-LD, microdata, RDFa,
OpenGraph/product meta, and (for a page that has none of them) the page itself.

Pure functions over text; nothing here fetches or raises on any input. JSON-LD is read
in every shape shops publish: a single node, arrays, ``@graph``, ``ItemList`` (whose
entries may be whole products or only URLs to follow), ``Offer`` / ``AggregateOffer`` /
``priceSpecification``, ``ImageObject`` images. Microdata and RDFa items arrive in the
same shape (:mod:`pipeline.sources.html_doc`) and are read the same way. What several
formats say about one product (same sku, URL or name) is merged into one product, each
field keeping the evidence of the format it came from.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from typing import Any

from pipeline.sources.html_doc import Page, parse_page
from pipeline.sources.merge import merge_into, merged, same_product
from pipeline.sources.normalize import Evidence, RawProduct
from pipeline.sources.page_signals import fill_from_page, main_product
from pipeline.sources.variants import collapse, variant_group

logger = logging.getLogger(__name__)

MAX_DEPTH = 24
MAX_NODES = 50_000
PRODUCT_TYPES = frozenset({"product", "individualproduct", "productmodel", "vehicle", "car"})
GROUP_TYPES = frozenset({"productgroup"})
# A product's own identifier, best first: the shop's sku, its product id (shops write
# ``productID``, ``productId``, ``productid``), the maker's part number, a GTIN.
ID_KEYS = ("sku", "productid", "mpn", "gtin13", "gtin", "gtin12", "gtin14", "gtin8")
# Lists whose entries are not products to follow.
NOT_PRODUCT_LISTS = frozenset({"breadcrumblist", "sitenavigationelement", "searchaction"})
# How much each format is trusted: the structured ones say what the shop meant.
CONFIDENCE = {"json-ld": 0.95, "microdata": 0.9, "rdfa": 0.85, "opengraph": 0.8}
FIELDS = (
    "name",
    "retailer_id",
    "description",
    "price_amount",
    "price_text",
    "currency",
    "availability",
    "url",
)


@dataclass
class Extracted:
    """Products found on a page, and product-page URLs an ItemList points to."""

    products: list[RawProduct] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    method: str = ""
    # The product the page is about, when it is a product page: one of ``products``, or
    # the product that ``products`` are variants of.
    main: RawProduct | None = None


def _types(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {str(v).rsplit("/", 1)[-1].lower() for v in values if isinstance(v, str)}


def _first(value: Any) -> Any:
    while isinstance(value, list):
        value = value[0] if value else None
    return value


def _text(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("@value") or value.get("name")
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return html.unescape(str(value)).strip() or None
    return None


def _images(value: Any) -> list[str]:
    out: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            url = item.get("url") or item.get("contentUrl") or item.get("@id")
            if isinstance(url, str):
                out.append(url)
    return out[:20]


def _offer(value: Any, depth: int = 0) -> tuple[Any, str | None, Any]:
    """(price, currency, availability) from Offer, [Offer], AggregateOffer, specs."""
    offers = value if isinstance(value, list) else [value]
    for offer in offers:
        if not isinstance(offer, dict):
            continue
        spec = _first(offer.get("priceSpecification"))
        spec = spec if isinstance(spec, dict) else {}
        price = _first(offer.get("price"))
        for candidate in (spec.get("price"), offer.get("lowPrice"), offer.get("highPrice")):
            if price in (None, ""):
                price = _first(candidate)
        currency = _text(offer.get("priceCurrency")) or _text(spec.get("priceCurrency"))
        nested = offer.get("offers")
        if price in (None, "") and nested is not None and depth < MAX_DEPTH:
            return _offer(nested, depth + 1)
        return price, currency, _text(offer.get("availability"))
    return None, None, None


def _product(node: dict[str, Any], source: str) -> RawProduct:
    price, currency, availability = _offer(node.get("offers"))
    keys = {str(k).lower(): v for k, v in node.items()}
    raw = RawProduct(
        name=_text(node.get("name")),
        retailer_id=next(filter(None, (_text(keys.get(k)) for k in ID_KEYS)), None),
        description=_text(node.get("description")),
        price_amount=price if not isinstance(price, dict | list) else None,
        currency=currency,
        image_urls=_images(node.get("image")),
        availability=availability or _text(node.get("availability")),
        url=_text(node.get("url")),
    )
    _witness(raw, source)
    return raw


def _group(node: dict[str, Any], source: str) -> RawProduct:
    """A ProductGroup: its own fields, stock, price and sku read across ``hasVariant``."""
    base = _product(node, source)
    group_id = _text(node.get("productGroupID"))
    if group_id:
        base.retailer_id = group_id
        base.evidence["retailer_id"] = Evidence(source, CONFIDENCE.get(source, 0.5))
    found = node.get("hasVariant")
    variants = [
        _product(v, source)
        for v in (found if isinstance(found, list) else [found])[:MAX_NODES]
        if isinstance(v, dict)
    ]
    return collapse(variants, base) if variants else base


def _witness(raw: RawProduct, source: str) -> None:
    """Every field ``raw`` has came from ``source``."""
    for name in FIELDS:
        if getattr(raw, name) not in (None, "") and name not in raw.evidence:
            raw.evidence[name] = Evidence(source, CONFIDENCE.get(source, 0.5))


def _list_item_link(node: dict[str, Any]) -> str | None:
    """The product page an ItemList entry points to, when it holds no product itself."""
    item = node.get("item")
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and not _types(item) & PRODUCT_TYPES:
        link = item.get("url") or item.get("@id")
        return link if isinstance(link, str) else None
    if item is None and isinstance(node.get("url"), str):
        return str(node["url"])
    return None


def _walk(node: Any, out: Extracted, source: str, depth: int, budget: list[int]) -> None:
    budget[0] -= 1
    if depth > MAX_DEPTH or budget[0] <= 0:
        return
    if isinstance(node, list):
        for child in node:
            _walk(child, out, source, depth + 1, budget)
        return
    if not isinstance(node, dict):
        return
    types = _types(node)
    if types & GROUP_TYPES:
        out.products.append(_group(node, source))
        return
    if types & PRODUCT_TYPES:
        out.products.append(_product(node, source))
        return
    if types & NOT_PRODUCT_LISTS:
        return
    if "listitem" in types and source == "json-ld":
        link = _list_item_link(node)
        if link:
            out.links.append(link)
    for key, child in node.items():
        if key != "@context" and isinstance(child, dict | list):
            _walk(child, out, source, depth + 1, budget)


def _opengraph(meta: dict[str, list[str]]) -> RawProduct | None:
    def get(*names: str) -> str | None:
        for name in names:
            if meta.get(name):
                return meta[name][0].strip() or None
        return None

    price = get("product:price:amount", "og:price:amount", "product:sale_price:amount")
    og_type = (get("og:type") or "").lower()
    if not get("og:title") or not (og_type.startswith("product") or price):
        return None
    raw = RawProduct(
        name=get("og:title"),
        retailer_id=get("product:retailer_item_id", "product:retailer_id", "product:sku"),
        description=get("og:description", "description"),
        price_amount=price,
        currency=get("product:price:currency", "og:price:currency"),
        image_urls=list(meta.get("og:image", []) + meta.get("og:image:url", []))[:20],
        availability=get("product:availability", "og:availability"),
        url=get("og:url"),
    )
    _witness(raw, "opengraph")
    return raw


def extract_from(page: Page, url: str = "") -> Extracted:
    """Products on a parsed page (see :func:`extract_products`)."""
    out = Extracted()
    used: list[str] = []
    for source, blocks in (("json-ld", page.jsonld), ("microdata", page.microdata)):
        before = len(out.products)
        budget = [MAX_NODES]
        try:
            _walk(blocks, out, source, 0, budget)
        except RecursionError:
            continue
        if len(out.products) > before:
            used.append(source)
    before = len(out.products)
    _walk(page.rdfa, out, "rdfa", 0, [MAX_NODES])
    if len(out.products) > before:
        used.append("rdfa")
    out.products = merged(out.products)
    og = _opengraph(page.meta)
    if og is not None:
        target = next((p for p in out.products if same_product(p, og)), None)
        if target is None and len(out.products) == 1:
            target = out.products[0]
        if target is not None:
            merge_into(target, og)
        elif not out.products:
            out.products.append(og)
        used.append("opengraph")
    if page.root is not None:
        # A product page: what structured data left out may still be in the page. With
        # several products (a carousel of others), only the one the page is about; with
        # its sizes or colours listed as products (kept: each is its own sku), the one
        # product they are variants of.
        main = variant_group(out.products) or main_product(page, out.products, url)
        if main is not None or not out.products:
            found = fill_from_page(page, main, url)
            if found is not None and not out.products:
                out.products.append(found)
                used.append("page")
            out.main = found
    out.method = "+".join(used)
    return out


def extract_products(page: str, url: str = "") -> Extracted:
    """Every product on ``page`` (fetched from ``url``), from every format, merged.
    Never raises."""
    return extract_from(parse_page(page), url)
