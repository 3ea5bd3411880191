"""The one product a product page is about, with the evidence for each field.

What the benchmark scores and what a single-product storefront page imports: the page's
products from every structured format, the main one chosen, its price read to a decimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pipeline.records import Availability
from pipeline.sources.html_doc import parse_page
from pipeline.sources.normalize import RawProduct, parse_availability, price_of
from pipeline.sources.page_signals import fill_from_page
from pipeline.sources.storefront_extract import Extracted, extract_products

_SCHEMA_AVAILABILITY = {
    Availability.IN_STOCK: "InStock",
    Availability.OUT_OF_STOCK: "OutOfStock",
    Availability.PREORDER: "PreOrder",
}


@dataclass
class PageProduct:
    """The page's product: fields the page says, ``None`` where it says nothing we trust."""

    name: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    sku: str | None = None
    availability: str | None = None  # schema.org name: InStock, OutOfStock, PreOrder
    evidence: dict[str, str] = field(default_factory=dict)


def page_product(page: str, url: str = "", structured: bool = True) -> PageProduct | None:
    """The product ``page`` (at ``url``) is about, or None when it shows none. With
    ``structured=False`` the page is read as if it had no JSON-LD, microdata or RDFa
    items (how the page reader alone fares). Never raises."""
    if not structured:
        parsed = parse_page(page)
        parsed.jsonld, parsed.microdata, parsed.rdfa = [], [], []
        alone = fill_from_page(parsed, None, url) if parsed.root is not None else None
        return None if alone is None else _summary(alone)
    return product_of(extract_products(page, url), url)


def product_of(found: Extracted, url: str = "") -> PageProduct | None:
    """The main product of what was found on the page at ``url``, or None."""
    if not found.products:
        return None
    return _summary(found.main or _main(found.products, url))


def _summary(raw: RawProduct) -> PageProduct:
    price = price_of(raw)
    availability = parse_availability(raw.availability)
    return PageProduct(
        name=raw.name,
        price=price.amount if not price.unparsed else None,
        currency=price.currency,
        sku=raw.retailer_id,
        availability=_SCHEMA_AVAILABILITY.get(availability),
        evidence={k: f"{e.source}:{e.confidence:.2f}" for k, e in raw.evidence.items()},
    )


def _main(products: list[RawProduct], url: str) -> RawProduct:
    """The page's own product: the one at the page's URL, else the first with a price."""
    here = url.split("#", 1)[0].rstrip("/")
    for raw in products:
        if raw.url and raw.url.split("#", 1)[0].rstrip("/") == here:
            return raw
    return next((p for p in products if p.price_amount or p.price_text), products[0])
