"""Facet counts and sorts over a result set, without a search around them."""

from __future__ import annotations

from decimal import Decimal

from pipeline.facets import facet_counts, price_buckets, sort_records
from pipeline.records import ProductRecord


def rec(pid: str, price: str | None, currency: str | None = "BRL") -> ProductRecord:
    return ProductRecord(
        product_id=f"s1:{pid}",
        seller_id="s1",
        name=pid,
        price=Decimal(price) if price is not None else None,
        currency=currency,
        source_url="http://shop.example/",
    )


def test_price_buckets_cover_every_priced_product_per_currency() -> None:
    records = [rec(str(i), str(i * 7)) for i in range(1, 40)] + [rec("u", "3", "USD")]
    buckets = price_buckets(records)
    assert sum(b["count"] for b in buckets if b["currency"] == "BRL") == 39
    assert [b for b in buckets if b["currency"] == "USD"][0]["count"] == 1
    brl = [b for b in buckets if b["currency"] == "BRL"]
    assert brl[0]["from"] == "0" and len(brl) == 5 and brl[-1]["to"] is None
    assert all(b["to"] == n["from"] for b, n in zip(brl, brl[1:], strict=False))


def test_cheap_items_get_decimal_edges() -> None:
    edges = [b["from"] for b in price_buckets([rec("a", "0.10"), rec("b", "1.90")])]
    assert edges[0] == "0" or Decimal(edges[0]) == 0
    assert all(Decimal(e) < 2 for e in edges)


def test_missing_price_sorts_last_and_facets_skip_it() -> None:
    records = [rec("a", None, None), rec("b", "5"), rec("c", "2")]
    ordered = sort_records(records, "price_asc", currency="BRL", changed_at=lambda _: 0)
    assert [r.name for r in ordered] == ["c", "b", "a"]
    facets = facet_counts(records, ["currency"])
    assert facets == {"currency": [{"value": "BRL", "count": 2}]}


def test_relevance_keeps_order() -> None:
    records = [rec("b", "5"), rec("a", "1")]
    assert sort_records(records, "relevance", currency=None, changed_at=lambda _: 0) == records
