"""A product's sku from the page itself, for a page whose structured data has none, or
only one variant's, or one the shopper never sees.

Sources, most trusted first (the confidence each carries):

- ``itemprop="sku"`` / ``productID`` / ``mpn`` / ``gtin13`` outside any Product scope (0.75);
- a cart form field named for it (``sku``, ``product_sku``, ``asin``...): what the shop
  sells the item as (0.7);
- a labelled code in the visible text, nearest the main heading: "SKU: AB-12",
  "Item No. 55", "Product code - 123", "Art.-Nr. 4711", "Réf. 3697/272", "Kód produktu:
  VR4V1B", "Код товара: 01245" ... in about fifteen languages (0.7);
- a short code in an element named for it (its class, id or a test hook such as
  ``data-qa`` saying sku, reference, product code, article or item number) (0.65);
- a ``data-sku``-like attribute or a ``"sku"`` key in the page's scripts (the state and
  analytics objects shops embed): the value said most often (0.6);
- a product id: ``data-pid``/``data-product-id``-like attributes and fields, nearest
  the heading (0.55);
- an Amazon-style ``/dp/<ASIN>`` product URL (0.5): the ten-character ASIN is the item's
  identifier on every Amazon marketplace and in the links that point at them.

A code is one token with a digit in it; a label followed by words ("Código postal",
"Kód: PC APPLE ...") gives none. Nothing here knows any particular shop.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from typing import Any

import lxml.etree

from pipeline.sources.html_doc import Page, first_line
from pipeline.sources.normalize import Evidence
from pipeline.sources.page_dom import HOOK_XPATH, HOOKS, canonical_href
from pipeline.sources.page_words import SKU_ATTR_WORDS, SKU_LABEL

MAX_TEXT_CHARS = 1_500_000
MAX_ELEMENTS = 2_000
# A code: one token of letters, digits and - _ / . # (a label's "PC APPLE MQ2Y2SL/A" is
# a description, not a code), with at least one digit.
_CODE = re.compile(r"[A-Za-z0-9][\w\-/.#]{2,39}")
_HAS_DIGIT = re.compile(r"\d")
_TEXT_XPATH = (
    "//body//text()[normalize-space() and not(parent::script) and not(parent::style)"
    " and not(parent::noscript) and not(parent::option) and not(parent::textarea)]"
)
_TEXT = lxml.etree.XPath(_TEXT_XPATH, smart_strings=False)
_TEXT_NODES = lxml.etree.XPath(_TEXT_XPATH)
# Class, id and test hooks: what names an element's role.
_NAMING = f"name()='class' or name()='id' or {HOOK_XPATH}"
_NAMED_XPATH = (
    f"//body//*[@*[({_NAMING}) and ("
    + " or ".join(f"contains(., '{w}')" for w in SKU_ATTR_WORDS)
    + ")]]"
)
_NAMED_WORDS = re.compile(
    r"(?<![a-z])(?:" + "|".join(re.escape(w) for w in SKU_ATTR_WORDS) + r")(?![a-z])"
)
SKU_ATTRS = ("data-sku", "data-product-sku", "data-productsku", "data-variant-sku")
ID_ATTRS = (
    "data-pid",
    "data-product-id",
    "data-productid",
    "data-product-code",
    "data-item-id",
    "data-itemid",
    "data-article-id",
)
SKU_FIELDS = frozenset({"sku", "product_sku", "productsku", "variant_sku", "asin"})
ID_FIELDS = frozenset(
    {
        "product_id", "productid", "product-id", "products_id", "id_product", "pid",
        "item_id", "itemid", "product_code", "productcode", "articleid", "article_id",
    }
)  # fmt: skip
_SCRIPT_SKU = re.compile(
    r"""["']?\b(?:sku|SKU|Sku)\b["']?\s*:\s*(?:["']([^"'\\\s]{2,40})["']|(\d{3,20})\b)"""
)
_ASIN_URL = re.compile(r"/(?:dp|gp/product|gp/aw/d)/([A-Z0-9]{10})(?:[/?#]|$)")


@dataclass
class VisibleText:
    """The page's visible text, one text node a line, and where each node starts."""

    text: str
    starts: list[int]
    root: Any
    _nodes: list[Any] | None = None

    def line_at(self, offset: int) -> int:
        """The source line of the element whose text holds ``offset``."""
        if self._nodes is None:
            # Text nodes that know their element cost far more to make than plain
            # strings: made only when a label was found.
            self._nodes = _TEXT_NODES(self.root)[: len(self.starts)]
        node = self._nodes[max(0, bisect_right(self.starts, offset) - 1)]
        parent = node.getparent()
        return int(parent.sourceline or 0) if parent is not None else 0


def visible_text(page: Page) -> VisibleText:
    """The text nodes of the page's body outside scripts, styles and form options."""
    starts: list[int] = []
    parts: list[str] = []
    total = 0
    for node in _TEXT(page.root):
        # Whitespace collapsed: the label pattern then never meets a long run of it,
        # which would make it backtrack for as long as the run squared.
        text = " ".join(node.split())
        starts.append(total)
        parts.append(text)
        total += len(text) + 1
        if total > MAX_TEXT_CHARS:
            break
    return VisibleText("\n".join(parts), starts, page.root)


def code(value: str) -> str | None:
    """``value`` as a product code, or None when it is not one (no digit, a sentence)."""
    value = first_line(value).strip(" .:;,#-–")
    match = _CODE.match(value)
    if match is None or not _HAS_DIGIT.search(match.group(0)):
        return None
    return match.group(0).strip(" .")


def labelled(text: VisibleText, anchor_line: int) -> str | None:
    """The labelled code nearest the heading ("SKU: 12", "Art.-Nr. 4711" ...)."""
    best: tuple[int, str] | None = None
    for match in SKU_LABEL.finditer(text.text):
        value = code(match.group("value"))
        if value is None:
            continue
        distance = abs(text.line_at(match.start()) - anchor_line)
        if best is None or distance < best[0]:
            best = (distance, value)
    return best[1] if best else None


def _itemprop(page: Page) -> str | None:
    path = "//*[@itemprop='sku' or @itemprop='productID' or @itemprop='mpn' or @itemprop='gtin13']"
    for el in page.root.xpath(path):
        value = first_line(el.get("content") or el.text_content())[:100]
        if value:
            return value
    return None


def _named(page: Page, anchor_line: int) -> str | None:
    """A short code in an element whose class, id or data attribute names it."""
    best: tuple[int, str] | None = None
    for el in page.root.xpath(_NAMED_XPATH)[:MAX_ELEMENTS]:
        names = " ".join(
            str(v).lower()
            for k, v in el.attrib.items()
            if k in ("class", "id") or str(k).startswith(HOOKS)
        )
        if not _NAMED_WORDS.search(names):
            continue
        text = el.text_content()
        if len(text) > 80:
            continue
        found = SKU_LABEL.search(text)
        value = code(found.group("value")) if found else code(text)
        if value is not None and (" " not in text.strip() or found):
            distance = abs((el.sourceline or 0) - anchor_line)
            if best is None or distance < best[0]:
                best = (distance, value)
    return best[1] if best else None


def _attributes(page: Page, names: tuple[str, ...]) -> list[tuple[str, int]]:
    """(value, source line) of the attributes ``names``."""
    out: list[tuple[str, int]] = []
    path = " | ".join(f"//*[@{n}]" for n in names)
    for el in page.root.xpath(path)[:MAX_ELEMENTS]:
        for name in names:
            value = code(str(el.get(name) or ""))
            if value is not None:
                out.append((value, el.sourceline or 0))
    return out


def _fields(page: Page, names: frozenset[str]) -> list[tuple[str, int]]:
    """(value, source line) of the form fields ``names`` (a cart form's hidden inputs)."""
    out: list[tuple[str, int]] = []
    for el in page.root.iter("input"):
        if str(el.get("name") or "").lower() in names:
            value = code(str(el.get("value") or ""))
            if value is not None:
                out.append((value, el.sourceline or 0))
    return out


def _script_skus(page: Page) -> list[str]:
    out: list[str] = []
    for script in page.root.iter("script"):
        kind = (script.get("type") or "").lower()
        if "ld+json" in kind or not script.text or "sku" not in script.text.lower():
            continue
        found = _SCRIPT_SKU.finditer(script.text[:MAX_TEXT_CHARS])
        out.extend(m.group(1) or m.group(2) for m in found)
    return [v for v in out if code(v) == v]


def _pick(values: list[tuple[str, int]], anchor_line: int, by_count: bool) -> str | None:
    if not values:
        return None
    counts = Counter(v for v, _ in values)

    def rank(item: tuple[str, int]) -> tuple[int, int]:
        return (-counts[item[0]] if by_count else 0, abs(item[1] - anchor_line))

    return min(values, key=rank)[0]


def page_sku(
    page: Page, anchor: Any, url: str, text: VisibleText | None = None
) -> tuple[str, Evidence] | None:
    """The product's sku as the page shows it, with its evidence; None when none."""
    anchor_line = int(anchor.sourceline or 0) if anchor is not None else 0
    found = _itemprop(page)
    if found:
        return found, Evidence("meta", 0.75)
    # What the cart form calls the sku is what the shop sells it as; a label may name
    # the maker's reference ("Référence", "Artikelnummer").
    found = _pick(_fields(page, SKU_FIELDS), anchor_line, by_count=True)
    if found:
        return found, Evidence("page-field", 0.7)
    found = labelled(text or visible_text(page), anchor_line)
    if found:
        return found, Evidence("page-label", 0.7)
    found = _named(page, anchor_line)
    if found:
        return found, Evidence("page-named", 0.65)
    # data-sku on a size swatch or an image widget, "sku" keys in analytics objects:
    # the value said most often.
    named = _attributes(page, SKU_ATTRS) + [(v, anchor_line) for v in _script_skus(page)]
    found = _pick(named, anchor_line, by_count=True)
    if found:
        return found, Evidence("page-attr", 0.6)
    ids = _attributes(page, ID_ATTRS) + _fields(page, ID_FIELDS)
    found = _pick(ids, anchor_line, by_count=False)
    if found:
        return found, Evidence("page-id", 0.55)
    for link in (canonical_href(page.root), url):
        match = _ASIN_URL.search(link or "")
        if match:
            return match.group(1), Evidence("url", 0.5)
    return None
