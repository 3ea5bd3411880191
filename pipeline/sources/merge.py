"""One product from what several formats say about it: same sku, URL or name."""

from __future__ import annotations

from dataclasses import fields

from pipeline.sources.normalize import RawProduct, clean_text

MAX_IMAGES = 20


def _keys(raw: RawProduct) -> set[str]:
    keys: set[str] = set()
    if raw.retailer_id:
        keys.add("id:" + raw.retailer_id.strip().lower())
    if raw.url:
        keys.add("url:" + raw.url.split("#", 1)[0].rstrip("/").lower())
    if raw.name:
        keys.add("name:" + clean_text(raw.name, 300).lower())
    return keys


def same_product(a: RawProduct, b: RawProduct) -> bool:
    """Same sku, URL or name, and no two different skus."""
    if a.retailer_id and b.retailer_id and a.retailer_id.strip() != b.retailer_id.strip():
        return False
    return bool(_keys(a) & _keys(b))


def merge_into(target: RawProduct, other: RawProduct) -> None:
    """Fill what ``target`` lacks from ``other``, with ``other``'s evidence."""
    for f in fields(RawProduct):
        if f.name in ("evidence", "image_urls"):
            continue
        if getattr(target, f.name) in (None, "") and getattr(other, f.name) not in (None, ""):
            setattr(target, f.name, getattr(other, f.name))
            if f.name in other.evidence:
                target.evidence[f.name] = other.evidence[f.name]
    for url in other.image_urls:
        if url not in target.image_urls and len(target.image_urls) < MAX_IMAGES:
            target.image_urls.append(url)


def merged(products: list[RawProduct]) -> list[RawProduct]:
    """``products`` with those that describe the same product merged, first one first.
    Linear: a page of 100,000 products is looked up by key, not compared pairwise."""
    out: list[RawProduct] = []
    index: dict[str, RawProduct] = {}
    for raw in products:
        match = None
        for key in sorted(_keys(raw)):  # "id:" first, then "name:", then "url:"
            found = index.get(key)
            if found is not None and same_product(found, raw):
                match = found
                break
        if match is None:
            out.append(raw)
            match = raw
        else:
            merge_into(match, raw)
        for key in _keys(match):
            index.setdefault(key, match)
    return out
