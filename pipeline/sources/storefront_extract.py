"""Products in a shop's HTML: schema.org JSON-LD, then microdata, then OpenGraph.

Pure functions over text; nothing here fetches or raises on any input. JSON-LD is read
in every shape shops publish: a single node, arrays, ``@graph``, ``ItemList`` (whose
entries may be whole products or only URLs to follow), ``Offer`` / ``AggregateOffer`` /
``priceSpecification``, ``ImageObject`` images.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from pipeline.sources.normalize import RawProduct

logger = logging.getLogger(__name__)

MAX_JSONLD_CHARS = 2_000_000
MAX_DEPTH = 24
MAX_NODES = 50_000
PRODUCT_TYPES = frozenset({"product", "individualproduct", "productmodel"})
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
        "param",
    }
)
_URL_ATTR = {
    "a": "href",
    "area": "href",
    "link": "href",
    "img": "src",
    "audio": "src",
    "video": "src",
    "source": "src",
    "iframe": "src",
    "embed": "src",
    "object": "data",
    "data": "value",
    "meter": "value",
    "time": "datetime",
}


@dataclass
class Extracted:
    """Products found on a page, and product-page URLs an ItemList points to."""

    products: list[RawProduct] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    method: str = ""


@dataclass
class _Frame:
    tag: str
    item: dict[str, Any] | None = None  # the item this element opened (itemscope)
    props: list[str] = field(default_factory=list)  # itemprop names waiting for text
    text: list[str] | None = None


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.jsonld: list[str] = []
        self.meta: dict[str, list[str]] = {}
        self.items: list[dict[str, Any]] = []  # top-level microdata items
        self._stack: list[_Frame] = []
        self._script: list[str] | None = None

    def _parent_item(self) -> dict[str, Any] | None:
        for frame in reversed(self._stack):
            if frame.item is not None:
                return frame.item
        return None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "script" and a.get("type", "").strip().lower() == "application/ld+json":
            self._script = []
        if tag == "meta":
            key = (a.get("property") or a.get("name") or "").strip().lower()
            if key and "content" in a and len(self.meta) < 500:
                self.meta.setdefault(key, []).append(a["content"])
        frame = _Frame(tag)
        props = a.get("itemprop", "").split()
        parent = self._parent_item()
        if "itemscope" in a:
            frame.item = {"@type": a.get("itemtype", "").split()[:1], "@props": {}}
            if props and parent is not None:
                for prop in props:
                    parent["@props"].setdefault(prop, []).append(frame.item)
            elif len(self.items) < MAX_NODES:
                self.items.append(frame.item)
        elif props and parent is not None:
            attr = _URL_ATTR.get(tag)
            if tag == "meta" or (attr and attr in a) or "content" in a:
                value = a.get("content") if "content" in a else a.get(attr or "", "")
                for prop in props:
                    parent["@props"].setdefault(prop, []).append(value or "")
            else:
                frame.props = props
                frame.text = []
        if tag not in _VOID:
            self._stack.append(frame)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            text = "".join(self._script)
            if len(text) <= MAX_JSONLD_CHARS:
                self.jsonld.append(text)
            self._script = None
        if not any(f.tag == tag for f in self._stack):
            return  # a stray end tag
        while self._stack:
            frame = self._stack.pop()
            self._close(frame)
            if frame.tag == tag:
                break

    def _close(self, frame: _Frame) -> None:
        if frame.text is None:
            return
        parent = self._parent_item()
        if parent is not None:
            value = " ".join("".join(frame.text).split())
            for prop in frame.props:
                parent["@props"].setdefault(prop, []).append(value)

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)
            return
        for frame in self._stack:
            if frame.text is not None:
                frame.text.append(data)

    def close(self) -> None:
        super().close()
        while self._stack:
            self._close(self._stack.pop())


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


def _offer(value: Any) -> tuple[Any, str | None, Any]:
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
        if price in (None, "") and nested is not None and nested is not value:
            return _offer(nested)
        return price, currency, _text(offer.get("availability"))
    return None, None, None


def _product_from_jsonld(node: dict[str, Any]) -> RawProduct:
    price, currency, availability = _offer(node.get("offers"))
    return RawProduct(
        name=_text(node.get("name")),
        retailer_id=_text(node.get("sku"))
        or _text(node.get("productID"))
        or _text(node.get("mpn"))
        or _text(node.get("gtin13")),
        description=_text(node.get("description")),
        price_amount=price if not isinstance(price, dict | list) else None,
        currency=currency,
        image_urls=_images(node.get("image")),
        availability=availability,
        url=_text(node.get("url")),
    )


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


def _walk(node: Any, out: Extracted, depth: int, budget: list[int]) -> None:
    budget[0] -= 1
    if depth > MAX_DEPTH or budget[0] <= 0:
        return
    if isinstance(node, list):
        for child in node:
            _walk(child, out, depth + 1, budget)
        return
    if not isinstance(node, dict):
        return
    types = _types(node)
    if types & PRODUCT_TYPES:
        out.products.append(_product_from_jsonld(node))
        return
    if "listitem" in types:
        link = _list_item_link(node)
        if link:
            out.links.append(link)
    for key, child in node.items():
        if key not in ("@context",) and isinstance(child, dict | list):
            _walk(child, out, depth + 1, budget)


def _microdata_product(item: dict[str, Any]) -> RawProduct:
    props: dict[str, list[Any]] = item["@props"]

    def get(name: str) -> Any:
        values = props.get(name) or [None]
        return values[0]

    offer = get("offers")
    offer_props: dict[str, list[Any]] = offer["@props"] if isinstance(offer, dict) else {}

    def offer_get(name: str) -> Any:
        return (offer_props.get(name) or [None])[0]

    price = offer_get("price") or offer_get("lowPrice")
    return RawProduct(
        name=_text(get("name")),
        retailer_id=_text(get("sku")) or _text(get("productID")) or _text(get("mpn")),
        description=_text(get("description")),
        price_amount=price if isinstance(price, str) else None,
        currency=_text(offer_get("priceCurrency")),
        image_urls=[v for v in props.get("image", []) if isinstance(v, str)],
        availability=_text(offer_get("availability")),
        url=_text(get("url")),
    )


def _microdata(items: list[dict[str, Any]], out: Extracted, depth: int = 0) -> None:
    for item in items:
        types = {str(t).rsplit("/", 1)[-1].lower() for t in item["@type"]}
        if types & PRODUCT_TYPES:
            out.products.append(_microdata_product(item))
            continue
        if depth < MAX_DEPTH:
            nested = [v for vs in item["@props"].values() for v in vs if isinstance(v, dict)]
            _microdata(nested, out, depth + 1)


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
    return RawProduct(
        name=get("og:title"),
        retailer_id=get("product:retailer_item_id", "product:retailer_id"),
        description=get("og:description", "description"),
        price_amount=price,
        currency=get("product:price:currency", "og:price:currency"),
        image_urls=list(meta.get("og:image", []) + meta.get("og:image:url", []))[:20],
        availability=get("product:availability", "og:availability"),
        url=get("og:url"),
    )


def extract_products(page: str) -> Extracted:
    """Products on ``page`` from the richest source present. Never raises."""
    parser = _PageParser()
    try:
        parser.feed(page)
        parser.close()
    except (AssertionError, ValueError) as exc:  # HTMLParser gives up on some broken markup
        logger.info("HTML parser stopped early: %s", exc)
    out = Extracted()
    budget = [MAX_NODES]
    for block in parser.jsonld:
        try:
            data = json.loads(block.strip().rstrip(";"))
        except (ValueError, RecursionError):
            continue
        try:
            _walk(data, out, 0, budget)
        except RecursionError:
            continue
    if out.products or out.links:
        out.method = "json-ld"
        return out
    _microdata(parser.items, out)
    if out.products:
        out.method = "microdata"
        return out
    og = _opengraph(parser.meta)
    if og is not None:
        out.products.append(og)
        out.method = "opengraph"
    return out
