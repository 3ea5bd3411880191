"""From what a source read to a :class:`ProductRecord`, the same way for every source.

A source fills a :class:`RawProduct` with whatever it found; :func:`to_record` cleans it
(whitespace, lengths, absolute http(s) image URLs, price, availability) and returns a
record, or a :class:`SkippedProduct` naming the reason when no record can be made.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urljoin, urlsplit

from pydantic import ValidationError

from pipeline.records import (
    MAX_DESCRIPTION,
    MAX_IMAGES,
    MAX_NAME,
    Availability,
    ProductRecord,
    SkippedProduct,
)
from pipeline.sources.prices import ParsedPrice, parse_price, price_from_number

logger = logging.getLogger(__name__)

_AVAILABILITY = {
    Availability.IN_STOCK: (
        "instock",
        "in stock",
        "available",
        "in_stock",
        "limitedavailability",
        "onlineonly",
        "instoreonly",
        "em estoque",
        "disponible",
        "disponível",
    ),
    Availability.OUT_OF_STOCK: (
        "outofstock",
        "out of stock",
        "out_of_stock",
        "soldout",
        "sold out",
        "discontinued",
        "esgotado",
        "agotado",
        "unavailable",
        "available for order: no",
    ),
    Availability.PREORDER: (
        "preorder",
        "pre-order",
        "pre_order",
        "presale",
        "backorder",
        "available for order",
    ),
}


def parse_availability(value: object) -> Availability:
    """``https://schema.org/InStock``, ``in stock``, ``out_of_stock`` ... to Availability."""
    if value is None:
        return Availability.UNKNOWN
    text = str(value).strip().lower()[:100]
    text = text.rsplit("/", 1)[-1]
    squashed = text.replace(" ", "").replace("_", "").replace("-", "")
    for availability in (Availability.OUT_OF_STOCK, Availability.PREORDER, Availability.IN_STOCK):
        for word in _AVAILABILITY[availability]:
            if text == word or squashed == word.replace(" ", "").replace("_", "").replace("-", ""):
                return availability
    return Availability.UNKNOWN


# A price read with less confidence than this stays ``price_unparsed``: better no price
# than a wrong one (the struck-out list price, a shipping fee, a monthly instalment).
PRICE_MIN_CONFIDENCE = 0.5
_TAG = re.compile(r"<(?:/?[A-Za-z][^<>]{0,2000}|!--.*?--)>", re.S)
_BLOCK_TAG = re.compile(r"<(?:br|/p|/div|/li|/h\d|/tr)\b[^<>]{0,200}>", re.I)


@dataclass(frozen=True)
class Evidence:
    """Where a field's value came from (``json-ld``, ``microdata``, ``rdfa``,
    ``opengraph``, ``state``, ``meta``, ``page``...) and how much it is trusted (0-1)."""

    source: str
    confidence: float


def clean_text(text: object, limit: int) -> str:
    """Plain text: HTML tags stripped, entities decoded (twice-escaped ones too),
    whitespace collapsed, cut at ``limit`` characters."""
    if text is None:
        return ""
    value = str(text)
    for _ in range(2):
        if "&" in value:
            value = html.unescape(value)
        if "<" in value:
            value = _TAG.sub(" ", _BLOCK_TAG.sub(" ", value))
    return " ".join(value.split())[:limit].rstrip()


@dataclass
class RawProduct:
    """What a source read for one product, before any cleaning."""

    name: str | None = None
    retailer_id: str | None = None
    description: str | None = None
    price_text: str | None = None
    price_amount: object = None  # a structured amount (number or numeric string)
    currency: str | None = None
    image_urls: list[str] = field(default_factory=list)
    availability: object = None
    url: str | None = None  # the product's own page, when it has one
    # Field name -> where its value came from; a field without an entry is the source's
    # own data (a feed column, an API field) and fully trusted.
    evidence: dict[str, Evidence] = field(default_factory=dict)


def _clean(text: object, limit: int) -> str:
    return clean_text(text, limit)


def _image_urls(urls: list[str], base_url: str) -> tuple[str, ...]:
    out: list[str] = []
    for url in urls:
        if not isinstance(url, str) or not url.strip():
            continue
        absolute = urljoin(base_url, url.strip())
        if urlsplit(absolute).scheme in ("http", "https") and len(absolute) <= 2048:
            if absolute not in out:
                out.append(absolute)
        if len(out) == MAX_IMAGES:
            break
    return tuple(out)


def price_of(raw: RawProduct) -> ParsedPrice:
    """The price of ``raw``: its structured amount when that reads, else its price text.
    A price whose evidence is weak comes back unparsed with its raw text."""
    parsed, used = _read_price(raw)
    evidence = raw.evidence.get(used)
    if parsed.amount is not None and evidence and evidence.confidence < PRICE_MIN_CONFIDENCE:
        return ParsedPrice(None, parsed.currency, parsed.raw, True)
    return parsed


def _read_price(raw: RawProduct) -> tuple[ParsedPrice, str]:
    """The price and the field it was read from."""
    if raw.price_amount is not None and str(raw.price_amount).strip():
        parsed = price_from_number(raw.price_amount, raw.currency)
        if not parsed.unparsed or raw.price_text is None or not str(raw.price_text).strip():
            return parsed, "price_amount"
    if raw.price_text is not None and str(raw.price_text).strip():
        return parse_price(raw.price_text, raw.currency), "price_text"
    return ParsedPrice(None, raw.currency if raw.currency else None, "", False), ""


def _retailer_id(value: object) -> str | None:
    text = _clean(value, 200)
    return text or None


def _seller_safe(seller_id: str) -> str:
    """A seller id valid in product ids: unusable characters become ``-``."""
    safe = re.sub(r"[^A-Za-z0-9_.:\-]", "-", seller_id.strip())[:128]
    if not safe or not safe[0].isalnum():
        safe = "s" + hashlib.sha256(seller_id.encode()).hexdigest()[:16]
    return safe


def to_record(raw: RawProduct, seller_id: str, source_url: str) -> ProductRecord | SkippedProduct:
    """Clean ``raw`` into a record; a SkippedProduct with the reason when that is impossible."""
    name = _clean(raw.name, MAX_NAME)
    product_url = urljoin(source_url, raw.url) if raw.url else None
    where = product_url or source_url
    if not name:
        return SkippedProduct(
            seller_id=seller_id, source_url=where[:4096], reason="product has no name"
        )
    retailer_id = _retailer_id(raw.retailer_id)
    if not retailer_id and not product_url:
        return SkippedProduct(
            seller_id=seller_id,
            source_url=where[:4096],
            raw_name=name,
            reason="product has neither a retailer id nor a product URL to identify it",
        )
    price = price_of(raw)
    currency = price.currency if price.currency else None
    try:
        return ProductRecord(
            product_id=ProductRecord.make_id(_seller_safe(seller_id), retailer_id, product_url),
            seller_id=_seller_safe(seller_id),
            retailer_id=retailer_id,
            name=name,
            description=_clean(raw.description, MAX_DESCRIPTION),
            price=price.amount if price.amount is None else Decimal(price.amount),
            currency=currency,
            price_raw=price.raw or None,
            price_unparsed=price.unparsed,
            image_urls=_image_urls(raw.image_urls, where),
            availability=parse_availability(raw.availability),
            source_url=where[:4096],
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = f"invalid {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        logger.info("skipped product %r of %s: %s", name[:80], seller_id, reason)
        return SkippedProduct(
            seller_id=seller_id, source_url=where[:4096], reason=reason, raw_name=name
        )
