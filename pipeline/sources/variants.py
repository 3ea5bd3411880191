"""Variants of one product on one page, read as the one product the shopper sees.

Shops often publish each size or colour of a product page as its own schema.org
``Product`` (one name, each with its own sku, price and stock), or as a ``ProductGroup``
with ``hasVariant``. The page sells one product: it is in stock when any variant is, it
costs the lowest price among the variants in stock (the lowest of all when none is, as
for the shop platforms' listings), and its sku is the group's id, else the code the page
shows; one size's sku is kept only as a weak guess the page can overrule.
"""

from __future__ import annotations

import dataclasses

from pipeline.records import Availability
from pipeline.sources.normalize import (
    Evidence,
    RawProduct,
    clean_text,
    parse_availability,
    price_of,
)

# Below what a code the page shows carries (page_sku), so that code wins.
VARIANT_SKU_CONFIDENCE = 0.6
_PRICE_FIELDS = ("price_amount", "price_text", "currency")
# More products of one name than this is a catalog that repeats names, not one product.
MAX_VARIANTS = 500


def variant_group(products: list[RawProduct]) -> RawProduct | None:
    """One product for ``products`` when they are variants of one product (two to
    MAX_VARIANTS of them, one name, different skus); None otherwise."""
    if not 2 <= len(products) <= MAX_VARIANTS:
        return None
    first = clean_text(products[0].name, 300).lower()
    # Stops at the first other name: a catalog page of 100,000 products costs one look.
    if not first or any(clean_text(p.name, 300).lower() != first for p in products[1:]):
        return None
    if len({(p.retailer_id or "").strip() for p in products}) < 2:
        return None
    return collapse(products)


def collapse(variants: list[RawProduct], base: RawProduct | None = None) -> RawProduct:
    """The product ``variants`` are variants of: ``base`` (a ProductGroup's own fields)
    or the first variant, with stock, price and sku read across all of them."""
    first = base if base is not None else variants[0]
    group = dataclasses.replace(
        first, image_urls=list(first.image_urls), evidence=dict(first.evidence)
    )
    for variant in variants:
        for name in ("name", "description", "url", "currency"):
            if getattr(group, name) in (None, "") and getattr(variant, name) not in (None, ""):
                setattr(group, name, getattr(variant, name))
                if name in variant.evidence:
                    group.evidence[name] = variant.evidence[name]
        group.image_urls.extend(u for u in variant.image_urls if u not in group.image_urls)
    del group.image_urls[20:]
    stock = [parse_availability(v.availability) for v in variants]
    in_stock = [v for v, s in zip(variants, stock, strict=True) if s == Availability.IN_STOCK]
    priced = [(price_of(v).amount, n, v) for n, v in enumerate(in_stock or variants)]
    cheapest = min(((a, n, v) for a, n, v in priced if a is not None), default=None)
    if cheapest is not None:
        _take(group, cheapest[2], _PRICE_FIELDS)
    if in_stock:
        _take(group, in_stock[0], ("availability",))
    elif any(s != Availability.UNKNOWN for s in stock):
        known = next(v for v, s in zip(variants, stock, strict=True) if s != Availability.UNKNOWN)
        _take(group, known, ("availability",))
    if base is None or not base.retailer_id:
        sku_from = next((v for v in variants if v.retailer_id), None)
        group.retailer_id = sku_from.retailer_id if sku_from else None
        group.evidence.pop("retailer_id", None)
        if sku_from is not None:
            source = sku_from.evidence.get("retailer_id", Evidence("variant", 1.0)).source
            group.evidence["retailer_id"] = Evidence(source, VARIANT_SKU_CONFIDENCE)
    return group


def _take(group: RawProduct, variant: RawProduct, names: tuple[str, ...]) -> None:
    for name in names:
        setattr(group, name, getattr(variant, name))
        group.evidence.pop(name, None)
        if name in variant.evidence:
            group.evidence[name] = variant.evidence[name]
