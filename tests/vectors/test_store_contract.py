"""The VectorStore contract on every store and layout: Milvus Lite served by the same
child as in production (both layouts) and a real Milvus 2.3 standalone server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import BackendUnavailable, ConfigError, PermanentError
from pipeline.local.services import LocalService
from pipeline.settings import Settings
from pipeline.vectors.base import VectorFilter, VectorRow, VectorStore
from pipeline.vectors.milvus import MilvusVectorStore
from pipeline.vectors.milvus_schema import choose_index, filter_expression
from tests.vectors.conftest import open_store

pytestmark = pytest.mark.slow  # Milvus server children (a few seconds each to start)

RNG = np.random.default_rng(7)


def unit(seed: int) -> np.ndarray:
    vec = np.random.default_rng(seed).standard_normal(768).astype(np.float32)
    return vec / np.linalg.norm(vec)


def row(i: int, *, seller: str = "s1", status: str = "approved", price: float | None = 10.0,
        currency: str | None = "USD") -> VectorRow:  # fmt: skip
    return VectorRow(
        product_id=f"p{i}",
        seller_id=seller,
        status=status,
        price=price,
        currency=currency,
        image_vector=unit(i),
        text_vector=unit(10_000 + i),
        content_hash=f"{i:032x}",
        updated_at=1_700_000_000.0 + i,
    )


def test_upsert_fetch_round_trip(store: VectorStore) -> None:
    rows = [row(i, price=None if i == 3 else float(i), currency=None if i == 3 else "EUR")
            for i in range(20)]  # fmt: skip
    store.upsert(rows)
    assert store.count() == 20
    fetched = store.fetch(["p5", "missing", "p3", "p5"])
    assert [r.product_id for r in fetched] == ["p5", "p3"]
    p5, p3 = fetched
    assert p5.seller_id == "s1" and p5.status == "approved" and p5.price == 5.0
    assert p5.currency == "EUR" and p5.content_hash == f"{5:032x}"
    assert p5.updated_at == 1_700_000_005.0
    np.testing.assert_allclose(p5.image_vector, rows[5].image_vector, atol=1e-6)
    np.testing.assert_allclose(p5.text_vector, rows[5].text_vector, atol=1e-6)
    assert p3.price is None and p3.currency is None


def test_reupsert_same_id_replaces(store: VectorStore) -> None:
    store.upsert([row(1), row(2)])
    newer = replace(row(1), image_vector=unit(999), status="pending", price=99.5)
    store.upsert([newer])
    assert store.count() == 2
    (got,) = store.fetch(["p1"])
    assert got.status == "pending" and got.price == 99.5
    np.testing.assert_allclose(got.image_vector, unit(999), atol=1e-6)
    # Duplicates within one call: the last one wins, one row stays.
    store.upsert([replace(row(3), price=1.0), replace(row(3), price=2.0)])
    assert store.count() == 3 and store.fetch(["p3"])[0].price == 2.0


def test_search_finds_the_nearest_and_respects_filters(store: VectorStore) -> None:
    rows = [
        row(i, seller="s1" if i % 2 else "s2", status="approved" if i % 3 else "pending",
            price=float(i))
        for i in range(30)
    ]  # fmt: skip
    store.upsert(rows)
    hits = store.search(unit(4), filters=VectorFilter(status=None), limit=5)
    assert hits[0].product_id == "p4" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert len(hits) == 5 and hits[0].score >= hits[-1].score
    # Default filter is approved only: p3 is pending (3 % 3 == 0), so it never shows.
    assert "p3" not in {h.product_id for h in store.search(unit(3), limit=30)}
    approved_s1 = store.search(unit(7), filters=VectorFilter(seller_id="s1"), limit=30)
    assert approved_s1[0].product_id == "p7"
    expected = {f"p{i}" for i in range(30) if i % 2 and i % 3}
    assert {h.product_id for h in approved_s1} == expected
    assert all(h.fields["seller_id"] == "s1" for h in approved_s1)
    price_range = VectorFilter(min_price=Decimal("10"), max_price=Decimal("20"))
    priced = store.search(unit(11), filters=price_range, limit=30)
    assert {h.product_id for h in priced} == {f"p{i}" for i in range(10, 21) if i % 3}
    text_hits = store.search(unit(10_008), field="text_vector", filters=VectorFilter(None), limit=1)
    assert text_hits[0].product_id == "p8"


def test_currency_filter_and_null_prices(store: VectorStore) -> None:
    store.upsert(
        [row(1, currency="USD"), row(2, currency="EUR"), row(3, price=None, currency=None)]
    )
    eur = store.search(unit(1), filters=VectorFilter(currency="EUR"), limit=10)
    assert [h.product_id for h in eur] == ["p2"]
    cheap = store.search(unit(1), filters=VectorFilter(max_price=Decimal("100")), limit=10)
    assert {h.product_id for h in cheap} == {"p1", "p2"}  # no price: not in a price range
    unfiltered = store.search(unit(3), filters=VectorFilter(status=None), limit=10)
    assert unfiltered[0].product_id == "p3"
    assert unfiltered[0].fields["price"] is None and unfiltered[0].fields["currency"] is None


def test_delete_by_id_and_by_seller(store: VectorStore) -> None:
    store.upsert([row(i, seller="a" if i < 5 else "b") for i in range(10)])
    store.delete(["p0", "p1", "nope"])
    assert store.count() == 8
    assert store.fetch(["p0", "p2"])[0].product_id == "p2"
    store.delete_seller("a")
    assert store.count() == 5
    assert {h.product_id for h in store.search(unit(6), limit=10)} == {
        f"p{i}" for i in range(5, 10)
    }
    store.delete([])
    store.delete_seller("nobody")
    assert store.count() == 5


def test_set_status_changes_only_status(store: VectorStore) -> None:
    store.upsert([row(1, status="pending"), row(2, status="pending")])
    assert store.search(unit(1), limit=5) == []
    store.set_status(["p1", "ghost"], "approved")
    (hit,) = store.search(unit(1), limit=5)
    assert hit.product_id == "p1"
    p1 = store.fetch(["p1"])[0]
    assert p1.price == 10.0 and p1.content_hash == f"{1:032x}"
    np.testing.assert_allclose(p1.image_vector, unit(1), atol=1e-6)
    np.testing.assert_allclose(p1.text_vector, unit(10_001), atol=1e-6)
    assert store.count() == 2
    # A text search sees the new status too (the split layout keeps it twice).
    (text_hit,) = store.search(unit(10_001), field="text_vector", limit=5)
    assert text_hit.product_id == "p1"


def test_invalid_input_is_refused_before_writing(store: VectorStore) -> None:
    store.upsert([row(1)])
    bad_rows = [
        (replace(row(2), image_vector=np.zeros(10, dtype=np.float32)), "shape"),
        (replace(row(2), text_vector=np.full(768, np.nan, dtype=np.float32)), "NaN"),
        (replace(row(2), status="live"), "status must be one of"),
        (replace(row(2), product_id='x" or 1 == 1'), "must match"),
        (replace(row(2), price=-1.0), "price"),
        (replace(row(2), currency="usd"), "currency"),
    ]
    for bad, message in bad_rows:
        with pytest.raises(PermanentError, match=message):
            store.upsert([row(3), bad])
    assert store.count() == 1  # nothing of a refused call was written
    with pytest.raises(PermanentError, match="must match"):
        store.delete_seller('s1" or seller_id != "')
    with pytest.raises(PermanentError, match="limit"):
        store.search(unit(1), limit=0)
    with pytest.raises(PermanentError, match="field"):
        store.search(unit(1), field="price")
    with pytest.raises(PermanentError, match="query vector"):
        store.search(np.ones(3, dtype=np.float32))
    with pytest.raises(PermanentError, match="status"):
        store.set_status(["p1"], "whatever")


def test_filter_expressions_are_quoted() -> None:
    expr = filter_expression(VectorFilter(status="approved", seller_id="s-1", min_price=Decimal(2)))
    assert expr == 'status == "approved" and seller_id == "s-1" and price >= 2.0'
    assert filter_expression(None) == ""
    with pytest.raises(PermanentError):
        filter_expression(VectorFilter(min_price=Decimal("-1")))


def test_index_choice() -> None:
    assert choose_index("AUTO", lite=True).index_type == "FLAT"
    hnsw = choose_index("AUTO", lite=False, hnsw_m=24, ef=200)
    assert hnsw.index_type == "HNSW" and hnsw.build["M"] == 24 and hnsw.search["ef"] == 200
    with pytest.raises(ConfigError, match="MILVUS_INDEX_TYPE"):
        choose_index("DISKANN", lite=True)


def test_from_settings_shares_one_lite_server(tmp_path: Path) -> None:
    settings = Settings.defaults().with_overrides(core={"data_dir": tmp_path / "data"})
    first = MilvusVectorStore.from_settings(settings)
    try:
        first.upsert([row(1)])
        second = MilvusVectorStore.from_settings(settings)  # another process would do the same
        try:
            assert second.uri == first.uri
            assert second.count() == 1
        finally:
            second.close()
        service = first._service
        assert isinstance(service, LocalService) and service.owner
    finally:
        first.close()
    # The owner stopped its server; a new store starts a fresh one on the same files.
    again = MilvusVectorStore.from_settings(settings)
    try:
        assert again.count() == 1
        with pytest.raises(ConfigError, match="has dim 768"):
            MilvusVectorStore(again.uri, collection=again.collection, dim=512, lite=True)
    finally:
        again.close()


@pytest.fixture
def lite_store(request: pytest.FixtureRequest) -> Iterator[MilvusVectorStore]:
    vector_store = open_store(request, "lite-combined")
    yield vector_store
    vector_store.drop()
    vector_store.close()


def test_a_write_during_another_threads_flush_is_sealed_by_the_next(
    lite_store: MilvusVectorStore,
) -> None:
    """Writers flush before they ack (Milvus Lite drops unsealed rows on restart): a write
    that returns while another thread's flush is in flight must not be counted as sealed."""
    store = lite_store
    client = store._client
    real_flush = client.flush
    calls: list[str] = []

    def flush_with_a_write_in_flight(*args: object, **kwargs: object) -> None:
        calls.append("flush")
        if len(calls) == 1:  # another thread's write returns while this flush runs
            writer = threading.Thread(target=store.upsert, args=([row(2)],))
            writer.start()
            writer.join(timeout=30)
        real_flush(*args, **kwargs)

    client.flush = flush_with_a_write_in_flight  # type: ignore[method-assign]
    store.upsert([row(1)])
    store.flush()
    store.flush()  # the writer's own flush before its ack
    assert calls == ["flush", "flush"]
    store.flush()  # nothing new: no call
    assert calls == ["flush", "flush"]
    assert [r.product_id for r in store.fetch(["p1", "p2"])] == ["p1", "p2"]


def test_flushed_writes_are_seen_by_another_client(store: MilvusVectorStore) -> None:
    """What a stage does before it acks: upsert, flush; then any other process finds it."""
    store.upsert([row(i) for i in range(5)])
    store.set_status(["p1"], "pending")
    store.flush()
    other = MilvusVectorStore(store.uri, collection=store.collection, lite=store.lite, timeout=30)
    try:
        assert other.layout.collections == store.layout.collections
        found = {r.product_id: r.status for r in other.fetch([f"p{i}" for i in range(5)])}
        assert found == {f"p{i}": "pending" if i == 1 else "approved" for i in range(5)}
    finally:
        other.close()


def test_a_released_collection_is_loaded_again_by_the_retry(store: MilvusVectorStore) -> None:
    """A restarted server comes back with collections released: the first call fails as
    retryable (and reloads them), the ledger's retry of it succeeds."""
    store.upsert([row(1), row(2)])
    store.flush()
    for name in store.layout.names:
        store._client.release_collection(name)
    answers = []
    for _attempt in range(3):
        try:
            answers.append(store.search(unit(1), limit=2)[0].product_id)
            break
        except BackendUnavailable as exc:
            assert "load" in str(exc), exc
    assert answers == ["p1"]
    assert store.count() == 2


def test_concurrent_writers_on_one_collection(store: MilvusVectorStore) -> None:
    """Four writers (as four embed/QC processes) on one collection lose nothing."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        own = MilvusVectorStore(store.uri, collection=store.collection, lite=store.lite, timeout=30)
        try:
            for batch in range(5):
                start = n * 100 + batch * 3
                own.upsert([row(i, status="pending") for i in range(start, start + 3)])
                own.flush()
                own.set_status([f"p{start}"], "approved")
                own.flush()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    expected = {n * 100 + b * 3 + k for n in range(4) for b in range(5) for k in range(3)}
    found = {r.product_id: r.status for r in store.fetch([f"p{i}" for i in expected])}
    assert len(found) == len(expected) == store.count()
    approved = {f"p{n * 100 + b * 3}" for n in range(4) for b in range(5)}
    assert {pid for pid, status in found.items() if status == "approved"} == approved


def clustered(rng: np.random.Generator, centres: np.ndarray, count: int) -> np.ndarray:
    """Unit vectors near random ``centres`` (cosine ~0.7), as image embeddings of similar
    products sit; on uniform noise every row is about as far as every other and a real
    HNSW at ef=128 found 0.925 of the top-10 here (benchmarks/vectors.py --uniform)."""
    picked = centres[rng.integers(0, len(centres), count)]
    out = picked + rng.standard_normal((count, centres.shape[1])).astype(np.float32) / 28
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_recall_at_10_against_exact_search(store: MilvusVectorStore) -> None:
    """After a bulk load, the store's index at its configured search parameters (HNSW at
    MILVUS_SEARCH_EF on a server, FLAT on Lite) finds the exact top-10, filtered and not."""
    n, sellers = 3_000, 10
    rng = np.random.default_rng(11)
    centres = rng.standard_normal((30, 768)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = clustered(rng, centres, n)
    rows = [
        replace(row(i, seller=f"s{i % sellers}"), image_vector=vectors[i], text_vector=vectors[i])
        for i in range(n)
    ]
    with store.bulk_load():  # on a server: released while loading, indexed, loaded again
        for start in range(0, n, 500):
            store.upsert(rows[start : start + 500])
    if not store.lite:  # the index covers every row: none is left to brute force
        for name in store.layout.names:
            (index,) = store._client.list_indexes(name)
            info = store._client.describe_index(name, index)
            assert (info["indexed_rows"], info["pending_index_rows"]) == (n, 0), info
    queries = clustered(np.random.default_rng(12), centres, 20)
    found = total = 0
    for q, query in enumerate(queries):
        seller = f"s{q % sellers}" if q % 2 else None
        allowed = np.arange(n) if seller is None else np.arange(q % sellers, n, sellers)
        scores = vectors[allowed] @ (query / np.linalg.norm(query))
        exact = {f"p{allowed[i]}" for i in np.argsort(-scores)[:10]}
        hits = store.search(query, filters=VectorFilter(seller_id=seller), limit=10)
        found += len(exact & {h.product_id for h in hits})
        total += 10
    recall = found / total
    floor = 1.0 if store.index.index_type == "FLAT" else 0.95
    assert recall >= floor, f"recall@10 {recall:.3f} with {store.index}"
