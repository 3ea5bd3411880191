"""One contract for every KeywordIndex: embedded tantivy, SQLite FTS5, Elasticsearch (fake
server, and a real cluster when ELASTICSEARCH_URL is set)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.errors import PermanentError
from pipeline.keyword.base import MAX_QUERY_CHARS, KeywordDoc, KeywordFilter, KeywordIndex


def doc(
    product_id: str,
    name: str,
    description: str = "",
    *,
    seller: str = "seller-a",
    status: str = "approved",
    price: str | None = "10",
    currency: str | None = "USD",
) -> KeywordDoc:
    return KeywordDoc(
        product_id=product_id,
        seller_id=seller,
        name=name,
        description=description,
        status=status,
        price=Decimal(price) if price is not None else None,
        currency=currency,
        content_hash=f"hash-{product_id}",
    )


def ids(index: KeywordIndex, query: str, **kwargs: object) -> list[str]:
    return [hit.product_id for hit in index.search(query, **kwargs)]  # type: ignore[arg-type]


CATALOG = [
    doc("p1", "Red running shoes", "light and comfortable", price="49.99"),
    doc("p2", "Summer dress", "cotton dress, goes with red shoes", price="20"),
    doc("p3", "Leather wallet", "brown leather", seller="seller-b", price="15.50"),
    doc("p4", "Red scarf", "wool", status="flagged", price="5"),
    doc("p5", "Garrafa de água", "garrafa térmica", price="12", currency="BRL"),
    doc("p6", "काला कुर्ता", "सूती कुर्ता", price="799", currency="INR"),
    doc("p7", "Handmade red mug", "ceramic", price=None, currency=None),
]


@pytest.fixture
def filled(keyword_index: KeywordIndex) -> KeywordIndex:
    result = keyword_index.upsert(CATALOG)
    assert result.indexed == len(CATALOG) and result.errors == {}
    keyword_index.refresh()
    return keyword_index


def test_search_finds_by_words_and_counts(filled: KeywordIndex) -> None:
    assert filled.count() == len(CATALOG)
    assert set(ids(filled, "shoes")) == {"p1", "p2"}
    assert ids(filled, "wallet") == ["p3"]
    assert ids(filled, "umbrella") == []


def test_name_match_ranks_above_description_match(filled: KeywordIndex) -> None:
    hits = filled.search("shoes")
    assert [h.product_id for h in hits] == ["p1", "p2"]
    assert hits[0].score > hits[1].score > 0


def test_default_filter_shows_approved_only(filled: KeywordIndex) -> None:
    assert "p4" not in ids(filled, "red")
    assert "p4" in ids(filled, "red", filters=KeywordFilter(status=None))
    assert ids(filled, "red", filters=KeywordFilter(status="flagged")) == ["p4"]


def test_seller_currency_and_price_filters(filled: KeywordIndex) -> None:
    assert ids(filled, "leather wallet shoes", filters=KeywordFilter(seller_id="seller-b")) == [
        "p3"
    ]
    assert ids(filled, "garrafa", filters=KeywordFilter(currency="USD")) == []
    assert ids(filled, "garrafa", filters=KeywordFilter(currency="BRL")) == ["p5"]
    # Bounds are inclusive; a product without a price never passes a price filter.
    in_range = KeywordFilter(min_price=Decimal("20"), max_price=Decimal("49.99"))
    assert set(ids(filled, "red shoes mug dress", filters=in_range)) == {"p1", "p2"}
    assert ids(filled, "red shoes mug", filters=KeywordFilter(max_price=Decimal("49.98"))) == ["p2"]
    assert "p7" in ids(filled, "mug")
    assert "p7" not in ids(filled, "mug", filters=KeywordFilter(min_price=Decimal("0")))


def test_accents_and_scripts_are_searchable(filled: KeywordIndex) -> None:
    assert ids(filled, "agua") == ["p5"]
    assert ids(filled, "ÁGUA") == ["p5"]
    assert ids(filled, "कुर्ता") == ["p6"]


def test_english_plural_matches_singular(filled: KeywordIndex) -> None:
    assert "p1" in ids(filled, "shoe")


def test_upsert_replaces_by_id(filled: KeywordIndex) -> None:
    filled.upsert([doc("p3", "Canvas tote bag", seller="seller-b")])
    filled.refresh()
    assert filled.count() == len(CATALOG)
    assert ids(filled, "wallet") == []
    assert ids(filled, "tote") == ["p3"]


def test_same_id_twice_in_one_batch_keeps_the_last(keyword_index: KeywordIndex) -> None:
    keyword_index.upsert([doc("x1", "first version"), doc("x1", "second version")])
    keyword_index.refresh()
    assert keyword_index.count() == 1
    assert ids(keyword_index, "second") == ["x1"]
    assert ids(keyword_index, "first") == []


def test_delete_by_id_ignores_unknown_ids(filled: KeywordIndex) -> None:
    filled.delete(["p1", "does-not-exist"])
    filled.refresh()
    assert ids(filled, "shoes") == ["p2"]
    assert filled.count() == len(CATALOG) - 1
    filled.delete([])


def test_delete_seller_removes_only_that_seller(filled: KeywordIndex) -> None:
    filled.delete_seller("seller-a")
    filled.refresh()
    assert filled.count() == 1
    assert ids(filled, "wallet leather shoes") == ["p3"]


def test_paging_is_consistent(filled: KeywordIndex) -> None:
    everything = ids(filled, "red shoes dress mug", limit=10)
    assert len(everything) == 3
    assert ids(filled, "red shoes dress mug", limit=2) == everything[:2]
    assert ids(filled, "red shoes dress mug", limit=2, offset=2) == everything[2:]


def test_invalid_document_is_reported_and_the_rest_land(keyword_index: KeywordIndex) -> None:
    bad = [doc("ok-1", "good lamp"), doc("bad id!", "broken"), doc("ok-2", "good chair")]
    bad.append(doc("ok-3", "negative", price="-1"))
    result = keyword_index.upsert(bad)
    keyword_index.refresh()
    assert result.indexed == 2
    assert set(result.errors) == {"bad id!", "ok-3"}
    assert "product_id" in result.errors["bad id!"] and "price" in result.errors["ok-3"]
    assert sorted(ids(keyword_index, "good")) == ["ok-1", "ok-2"]


@pytest.mark.parametrize(
    "query", ["", "   ", "!!! ---", 'name:"x" AND (', "shoes OR NEAR(*", "status:flagged"]
)
def test_query_syntax_is_text_never_an_error(filled: KeywordIndex, query: str) -> None:
    hits = filled.search(query)
    assert all(hit.product_id != "p4" for hit in hits)  # no way around the status filter
    if "shoes" in query:
        assert {h.product_id for h in hits} == {"p1", "p2"}


def test_size_limits_are_permanent_errors(filled: KeywordIndex) -> None:
    with pytest.raises(PermanentError, match="query must be at most"):
        filled.search("a" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(PermanentError, match="limit"):
        filled.search("shoes", limit=0)
    with pytest.raises(PermanentError, match="offset"):
        filled.search("shoes", offset=-1)
    with pytest.raises(PermanentError, match="product id"):
        filled.delete(["../../etc"])
