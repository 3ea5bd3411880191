"""A product from a page without (enough) structured data: the JSON state a framework
embeds, ``itemprop``/meta tags outside any Product scope, and the visible page.

Each value found carries its evidence and a confidence. The visible page is read the way
a shopper reads it: the main heading is the name; the price is the one nearest to it
(:mod:`pipeline.sources.page_price`); the sku the code the page shows
(:mod:`pipeline.sources.page_sku`); availability what the stock line says, in the page's
language, or an add-to-cart control. On a page with several products, only the one the
page is about is filled (:func:`main_product`). Nothing here knows any particular shop.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from pipeline.sources.html_doc import Page
from pipeline.sources.merge import merge_into
from pipeline.sources.normalize import Evidence, RawProduct, clean_text, price_of
from pipeline.sources.page_dom import attrs_hint, canonical_href, hidden, in_chrome
from pipeline.sources.page_price import page_price
from pipeline.sources.page_sku import page_sku, visible_text
from pipeline.sources.page_words import (
    ADD_TO_CART,
    IN_STOCK_WORDS,
    OUT_OF_STOCK_WORDS,
)

logger = logging.getLogger(__name__)

MAX_CANDIDATES = 400
# The confidence of a sku read from structured data (JSON-LD ... OpenGraph).
STRUCTURED_SKU = 0.8
MAX_STATE_NODES = 30_000
# More products than this on one page make it a catalog page, not a product page.
MAX_PAGE_PRODUCTS = 200
# "vail"/"tock" match Availability, InStock and stock without a case-folding
# translate() over every element (which costs more than the whole parse).
_STOCK_XPATH = (
    "//*[contains(@class, 'vail') or contains(@id, 'vail') or contains(@class, 'tock')"
    " or contains(@id, 'tock')]"
)
_CART_XPATH = (
    "//button | //input[@type='submit' or @type='button' or @type='image']"
    " | //a[contains(@class, 'art') or contains(@id, 'art') or contains(@class, 'uy')"
    " or contains(@id, 'uy') or contains(@class, 'asket') or contains(@id, 'asket')]"
)


@dataclass
class _Value:
    value: str
    evidence: Evidence


def _title_words(page: Page) -> set[str]:
    title = (page.meta.get("og:title") or [""])[0] or page.root.findtext(".//title") or ""
    return set(re.findall(r"\w+", title.lower()))


def main_heading(page: Page) -> tuple[Any, _Value | None]:
    """The main heading: of the page's first ``h1``s, the one sharing most words with
    the page title (the first ``h1`` is sometimes a logo or a section name), one outside
    the navigation, sidebar and footer before one inside; else the title itself."""
    words = _title_words(page)
    best: tuple[tuple[int, bool], Any, str] | None = None
    for n, h1 in enumerate(page.root.iter("h1")):
        if n >= 10:
            break
        text = clean_text(h1.text_content(), 300)
        if len(text) < 2 or hidden(h1):
            continue
        overlap = len(words & set(re.findall(r"\w+", text.lower())))
        rank = (overlap, not in_chrome(h1))
        if best is None or rank > best[0]:
            best = (rank, h1, text)
    if best is not None:
        return best[1], _Value(best[2], Evidence("page", 0.7))
    title = (page.meta.get("og:title") or [""])[0] or page.root.findtext(".//title") or ""
    text = clean_text(title, 300)
    return None, (_Value(text, Evidence("page", 0.4)) if text else None)


def _words(text: str) -> str | None:
    lower = text.lower()
    if any(word in lower for word in OUT_OF_STOCK_WORDS):
        return "OutOfStock"
    if any(word in lower for word in IN_STOCK_WORDS):
        return "InStock"
    return None


def _availability(page: Page, anchor: Any) -> tuple[str, Evidence] | None:
    root = page.root
    anchor_line = anchor.sourceline if anchor is not None and anchor.sourceline else 0
    best: tuple[int, int, str] | None = None
    for el in root.xpath(_STOCK_XPATH)[:MAX_CANDIDATES]:
        if el.tag in ("script", "style", "body", "html", "option", "select") or hidden(el):
            continue
        link = el.get("href") or el.get("content") or ""
        said = _words(link.rsplit("/", 1)[-1]) if link else None
        text = clean_text(el.text_content(), 300)
        said = said or (_words(text) if text and len(text) < 120 else None)
        if said:
            # A stock line is named for it ("availability", "stock"); "unavailable"
            # in a class is more often an error message or a missing image.
            hint = attrs_hint(el).replace("unavail", "")
            named = 0 if ("availab" in hint or "stock" in hint) else 1
            rank = (named, abs((el.sourceline or 0) - anchor_line))
            if best is None or rank < best[:2]:
                best = (*rank, said)
    if best is not None:
        return best[2], Evidence("page", 0.75)
    for el in root.xpath(_CART_XPATH)[:2000]:
        label = " ".join(
            str(v) for v in (el.get("id"), el.get("name"), el.get("class"), el.get("value"))
        )
        label = f"{label} {el.text_content()[:80] if el.tag != 'a' else ''}".lower()
        # A disabled control says nothing: shops disable it until a size is chosen, and
        # a sold-out page says so in words (read above).
        if any(phrase in label for phrase in ADD_TO_CART) and el.get("disabled") is None:
            return "InStock", Evidence("page", 0.6)
    return None


def _state_product(page: Page, name: str | None) -> RawProduct | None:
    """The product in the framework state whose name matches the page's heading."""
    if not page.state or not name:
        return None
    wanted = name.lower()
    stack: list[Any] = list(page.state)
    budget = MAX_STATE_NODES
    while stack and budget > 0:
        node = stack.pop()
        budget -= 1
        if isinstance(node, list):
            stack.extend(node[:200])
            continue
        if not isinstance(node, dict):
            continue
        title = node.get("name") or node.get("title") or node.get("productName")
        price = next((node[k] for k in ("price", "salePrice", "currentPrice") if k in node), None)
        if isinstance(price, dict):
            price = price.get("value") or price.get("amount") or price.get("current")
        if (
            isinstance(title, str)
            and isinstance(price, int | float | str)
            and not isinstance(price, bool)
            and title.strip().lower() in wanted
            and len(title.strip()) >= 3
        ):
            sku = node.get("sku") or node.get("productCode") or node.get("articleNumber")
            raw = RawProduct(name=title, price_text=str(price), retailer_id=_str(sku))
            raw.evidence["price_text"] = Evidence("state", 0.65)
            if raw.retailer_id:
                raw.evidence["retailer_id"] = Evidence("state", 0.65)
            return raw
        stack.extend(v for v in node.values() if isinstance(v, dict | list))
    return None


def _str(value: Any) -> str | None:
    return str(value).strip() or None if isinstance(value, str | int) else None


def _meta_currency(page: Page) -> str | None:
    for name in ("product:price:currency", "og:price:currency"):
        if page.meta.get(name):
            return page.meta[name][0].strip().upper() or None
    return None


def _canonical(page: Page, url: str) -> str | None:
    return canonical_href(page.root) or url or None


def main_product(page: Page, products: list[RawProduct], url: str) -> RawProduct | None:
    """The product a page is about: the only one; of several, the one at the page's URL
    (or canonical URL), else the one named like the main heading; None on a list page."""
    if len(products) <= 1:
        return products[0] if products else None
    if len(products) > MAX_PAGE_PRODUCTS:
        return None  # a catalog page, not a product page with a few others beside it
    here = {_same_url(u) for u in (url, _canonical(page, url)) if u}
    for raw in products:
        if raw.url and _same_url(raw.url) in here:
            return raw
    _, heading = main_heading(page)
    if heading is None or heading.evidence.confidence < 0.7:
        return None
    wanted = heading.value.lower()
    return next((p for p in products if clean_text(p.name, 300).lower() == wanted), None)


def _same_url(url: str) -> str:
    return url.split("#", 1)[0].rstrip("/").lower()


def _fill_sku(page: Page, target: RawProduct, anchor: Any, url: str) -> None:
    """The page's own sku where ``target`` has none, or only a weak one (one variant's)."""
    current = target.evidence.get("retailer_id")
    if target.retailer_id and current is None:
        return  # the source's own data
    text = visible_text(page)
    if target.retailer_id and current is not None and current.confidence >= STRUCTURED_SKU:
        # Structured data names this product; a code the page shows instead wins only
        # when the shopper never sees the structured one.
        if target.retailer_id in text.text:
            return
        found = page_sku(page, anchor, url, text)
        if found is not None and found[1].source in ("page-label", "page-named"):
            logger.debug("sku %s shown on the page over %s", found[0], target.retailer_id)
            target.retailer_id, target.evidence["retailer_id"] = found
        return
    found = page_sku(page, anchor, url, text)
    if found is None:
        return
    if not target.retailer_id or current is None or found[1].confidence > current.confidence:
        target.retailer_id, target.evidence["retailer_id"] = found


def fill_from_page(page: Page, product: RawProduct | None, url: str) -> RawProduct | None:
    """Fill what ``product`` lacks from the page; with no product, the page's product
    when the page shows a name and a price, sku or stock line. Never raises."""
    anchor, name = main_heading(page)
    target = product or RawProduct()
    state = _state_product(page, name.value if name else None)
    if state is not None:
        merge_into(target, state)
    if price_of(target).amount is None:
        price = page_price(page, anchor, target.currency or _meta_currency(page))
        if price is not None:
            target.price_text, target.evidence["price_text"] = price
    _fill_sku(page, target, anchor, url)
    if target.availability in (None, ""):
        availability = _availability(page, anchor)
        if availability is not None:
            target.availability, target.evidence["availability"] = availability
    if target.availability in (None, "") and (target.price_amount or target.price_text):
        # A page that shows a price and no stock line, no cart control and no sold-out
        # word sells the product; said with low confidence.
        target.availability, target.evidence["availability"] = (
            "InStock",
            Evidence("page-default", 0.5),
        )
    if product is not None:
        return product
    if name is None or not (target.price_text or target.retailer_id or target.availability):
        return None
    target.name, target.evidence["name"] = name.value, name.evidence
    target.url = target.url or _canonical(page, url)
    target.image_urls.extend(page.meta.get("og:image", [])[:1])
    return target
