"""The price a product page shows for its product, read the way a shopper reads it.

Every price-looking text or ``*price*`` attribute is a candidate, scored: a currency
sign, ``itemprop="price"`` and "sale/current/new/our" classes count for it; struck-out
(``del``/``s``) and "old/was/list/compare" classes, unit and instalment prices, "+"
extras, several amounts in one text, a currency other than the page's, hidden copies and
prices inside carousels of other products, variant swatches, footers or mini-carts count
against it. Nearness to the main heading counts most: in the document tree (the levels
up to the block both sit in, which works on minified pages too) and in source lines. The
same amount shown in several credible places wins ties.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline.sources.html_doc import Page
from pipeline.sources.normalize import Evidence, clean_text
from pipeline.sources.page_dom import HOOK_XPATH, Nearness, attrs_hint, hidden
from pipeline.sources.page_words import (
    BAD_PRICE_HINTS,
    ELSEWHERE_HINTS,
    GOOD_PRICE_HINTS,
    SECONDARY_PRICE_WORDS,
)
from pipeline.sources.prices import parse_price

MAX_CANDIDATES = 400
# Levels up from the heading within which a price is in the product's own block.
NEAR_LEVELS = 2
# "rice" matches Price and price without a case-folding translate() over every element
# (which costs more than the whole parse).
_PRICE_XPATH = (
    "//*[contains(@class, 'rice') or contains(@id, 'rice') or @itemprop='price'"
    f" or @*[contains(local-name(), 'price')] or @*[({HOOK_XPATH}) and contains(., 'rice')]]"
)
_SKIP_TAGS = frozenset({"script", "style", "head", "html", "body", "form", "link", "option"})
_FIRST_PRICE = re.compile(
    r"(?:[$€£¥₹₽₩₺₫₴₪₦₱฿]|\b[A-Z]{3}|R\$|Rs\.?|zł)?\s?\d(?:[\d.,'\u00a0\u202f]|\s(?=\d{3}\b))*"
    r"(?:\s?(?:[$€£¥₹₽₩₺₫₴₪₦₱฿]|[A-Z]{3}\b|zł|Kč|Ft|kn|Kn|лв|руб|тг|грн))?"
)
_HAS_DIGIT = re.compile(r"\d")
_NOT_AMOUNT = re.compile(r"[/=?(){}:]|[a-z]{4}")
_CURRENCY_MARK = re.compile(
    r"[$€£¥₹₽₩₺₫₴₪₦₱฿]|\b[A-Z]{3}\b|\b(?:Rs|Kč|zł|Ft|kn|Kn|lei|лв|руб|тг|грн|RM|Rp)\b"
)
_PER_UNIT = re.compile(r"/\s*(?:m|kg|l|ml|g|mo|month|mes|monat|mois)\b|\bx\s*\d", re.I)


@dataclass
class _Hit:
    score: float
    position: int
    text: str
    line: int
    levels: int = 0
    shown: bool = True  # text the shopper sees, not an attribute


def _in_struck(el: Any) -> bool:
    return el.tag in ("del", "s", "strike") or any(
        parent.tag in ("del", "s", "strike") for parent in el.iterancestors()
    )


def _elsewhere(el: Any) -> bool:
    """Inside a carousel of other products, a recommendation, a variant swatch, the
    footer or the mini-cart."""
    for n, node in enumerate(el.iterancestors()):
        if n >= 12 or node.tag in ("body", "html"):
            break  # feature-detection classes live there ("history", "touch")
        hint = f"{node.get('class') or ''} {node.get('id') or ''}".lower()
        if hint.strip() and any(word in hint for word in ELSEWHERE_HINTS):
            return True
    return False


def _score(el: Any, text: str, from_attr: bool, currency: str | None) -> float:
    hint = attrs_hint(el)
    score = 0.45 if from_attr else 0.4
    if not from_attr and _CURRENCY_MARK.search(text):
        score += 0.15
        said = parse_price(text).currency
        if currency and said and said != currency and "$" not in text:
            score -= 0.3  # another currency: a conversion, an import price
    if el.get("itemprop") == "price":
        score += 0.2
    if any(word in hint for word in BAD_PRICE_HINTS) or _in_struck(el):
        score -= 0.4
    if any(word in hint for word in GOOD_PRICE_HINTS):
        score += 0.1
    if _PER_UNIT.search(text) or (not from_attr and SECONDARY_PRICE_WORDS.search(text)):
        score -= 0.3  # a unit price, an instalment, before tax, the old price
    if text.lstrip().startswith("+"):
        score -= 0.3  # an extra: shipping, an option, a warranty
    if not from_attr and hidden(el):
        score -= 0.15  # a copy for a popover or another variant
    return score - (0.3 if _elsewhere(el) else 0.0)


def _amount(text: str) -> tuple[Decimal | None, str]:
    """The amount in a price text and the part of it that says so; for "from $3 - $4"
    or "$7 (was $9)", the first."""
    parsed = parse_price(text)
    if parsed.amount is None and not text.lstrip().startswith("-"):
        first = _FIRST_PRICE.search(text)
        if first:
            return parse_price(first.group(0)).amount, first.group(0).strip()
    return parsed.amount, text


def _candidates(page: Page, anchor: Any, currency: str | None) -> list[_Hit]:
    elements = page.root.xpath(_PRICE_XPATH)[:MAX_CANDIDATES]
    anchor_line = anchor.sourceline if anchor is not None else None
    near = Nearness(anchor)
    out: list[_Hit] = []
    for n, el in enumerate(elements):
        if el.tag in _SKIP_TAGS:
            continue
        found: list[tuple[str, bool]] = []
        for key, value in el.attrib.items():
            name = str(key).lower()
            if ("price" in name and name not in ("class", "id")) or name == "content":
                # An amount, not a URL or a script call that mentions a price.
                amount_like = len(value) <= 40 and not _NOT_AMOUNT.search(value)
                if amount_like and _HAS_DIGIT.search(value or ""):
                    found.append((value, True))
        text = clean_text(el.text_content(), 80)
        if text and len(text) <= 40 and _HAS_DIGIT.search(text):
            found.append((text, False))
        if not found:
            continue
        line = el.sourceline or 0
        # The block shared with the heading: 1 level up is the heading's own box.
        levels = near.levels_up(el)
        closeness = 0.2 * max(0.0, 1 - (levels - 1) / 8) if anchor_line else 0.0
        if anchor_line is not None:
            # Lines as well: on a minified page all are equally near, which leaves the
            # tree to decide.
            closeness += 0.1 * max(0.0, 1 - abs(line - anchor_line) / 400)
        for value, from_attr in found:
            score = _score(el, value, from_attr, currency) + closeness
            out.append(_Hit(score, n, value, line, levels, not from_attr))
    return out


def page_price(page: Page, anchor: Any, currency: str | None = None) -> tuple[str, Evidence] | None:
    """The product's price text on ``page`` (its main heading ``anchor``; ``currency``
    the page's, when known) with a confidence; None when the page shows no price."""
    by_amount: dict[Decimal, list[_Hit]] = {}
    for hit in _candidates(page, anchor, currency):
        amount, said = _amount(hit.text)
        if amount is not None and amount > 0:
            # Several amounts in one text are often "was X now Y": a weaker candidate.
            hit.score -= 0.1 if said != hit.text else 0.0
            hit.text = said
            by_amount.setdefault(amount, []).append(hit)
    best: _Hit | None = None
    for hits in by_amount.values():
        top = max(hits, key=lambda h: (h.score, -h.position))
        # Shown in several credible places in the heading's block (not nested elements
        # on one line) counts for it; a struck-out copy, other products' cards and
        # attributes nobody sees do not.
        places = len(
            {
                h.line
                for h in hits
                if h.shown and h.score >= top.score - 0.15 and h.levels <= NEAR_LEVELS
            }
        )
        score = top.score + min(0.15, 0.05 * (places - 1))
        texted = [h for h in hits if _CURRENCY_MARK.search(h.text)]
        text = max(texted, key=lambda h: h.score).text if texted else top.text
        if best is None or (score, -top.position) > (best.score, -best.position):
            best = _Hit(score, top.position, text, top.line)
    if best is None:
        return None
    return best.text, Evidence("page", round(min(best.score, 0.9), 2))
