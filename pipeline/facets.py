"""Facet counts and non-relevance orders over a search's whole result set.

The result set is every live candidate of the search (keyword matches up to
``SEARCH_RESULT_SET_DEPTH`` plus the vector half's candidates), not the page: a facet
count says how many products a filter would leave.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from pipeline.records import ProductRecord

FACETS = ("seller_id", "currency", "price", "availability")
SORTS = ("relevance", "price_asc", "price_desc", "newest")
MAX_VALUES = 20  # values listed per facet, most frequent first
PRICE_BUCKETS = 5


def facet_counts(records: Sequence[ProductRecord], names: Sequence[str]) -> dict[str, Any]:
    """``{"seller_id": [{"value", "count"}], "price": [{"currency", "from", "to", "count"}]}``
    for the requested facet names (any of FACETS)."""
    out: dict[str, Any] = {}
    for name in names:
        if name == "price":
            out[name] = price_buckets(records)
            continue
        counts = Counter(_value(record, name) for record in records)
        counts.pop(None, None)
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        out[name] = [{"value": value, "count": n} for value, n in ordered[:MAX_VALUES]]
    return out


def _value(record: ProductRecord, name: str) -> str | None:
    if name == "availability":
        return record.availability.value
    value = getattr(record, name)
    return str(value) if value is not None else None


def price_buckets(records: Sequence[ProductRecord]) -> list[dict[str, Any]]:
    """Up to PRICE_BUCKETS ranges per currency, edges rounded to 1-2-5 steps, each
    ``from <= price < to`` (the last one open: ``to`` null). Prices of different
    currencies are never put in one bucket."""
    by_currency: dict[str, list[Decimal]] = {}
    for record in records:
        if record.price is not None and record.currency is not None:
            by_currency.setdefault(record.currency, []).append(record.price)
    out: list[dict[str, Any]] = []
    for currency in sorted(by_currency, key=lambda c: (-len(by_currency[c]), c)):
        prices = sorted(by_currency[currency])
        edges = price_edges(prices[-1])
        counts = [
            sum(1 for p in prices if p >= low and (high is None or p < high))
            for low, high in zip(edges, [*edges[1:], None], strict=True)
        ]
        out.extend(bucket_rows(currency, edges, counts))
    return out


def price_edges(highest: Decimal) -> list[Decimal]:
    """Bucket lower edges: 0, then a nice step (1, 2 or 5 x 10^n) that cuts 0..highest
    into about PRICE_BUCKETS pieces."""
    top = float(highest)
    if top <= 0:
        return [Decimal(0)]
    raw = top / PRICE_BUCKETS
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * 0.75)
    step_dec = Decimal(int(step)) if step >= 1 else Decimal(str(step))
    return [step_dec * i for i in range(PRICE_BUCKETS)]


def bucket_rows(currency: str, edges: list[Decimal], counts: list[int]) -> list[dict[str, Any]]:
    """The non-empty buckets of one currency in the response's shape."""
    return [
        {
            "currency": currency,
            "from": str(low),
            "to": str(high) if high is not None else None,
            "count": count,
        }
        for low, high, count in zip(edges, [*edges[1:], None], counts, strict=True)
        if count
    ]


def sort_records(
    ordered: list[ProductRecord],
    sort: str,
    *,
    currency: str | None,
    changed_at: Callable[[str], float],
) -> list[ProductRecord]:
    """``ordered`` (relevance order) in the requested order.

    Price sorts are exact within one currency. With several currencies in the result set
    and none named in the request, products are grouped by currency (the currency with
    the most products first, ties by code) and sorted by price within each group; products
    without a price come last. ``newest`` puts the most recently added or changed product
    first. Ties keep relevance order (the sort is stable).
    """
    if sort == "newest":
        return sorted(ordered, key=lambda r: -changed_at(r.product_id))
    if sort not in ("price_asc", "price_desc"):
        return ordered
    sign = 1 if sort == "price_asc" else -1
    sizes = Counter(r.currency for r in ordered if r.price is not None)
    group_rank = {
        c: i for i, (c, _) in enumerate(sorted(sizes.items(), key=lambda x: (-x[1], x[0] or "")))
    }

    def key(record: ProductRecord) -> tuple[int, int, Decimal]:
        if record.price is None:
            return (1, 0, Decimal(0))
        group = 0 if currency is not None else group_rank[record.currency]
        return (0, group, sign * record.price)

    return sorted(ordered, key=key)
