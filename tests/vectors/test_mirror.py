"""The in-memory mirror of live products' image vectors, on a real redis-server and Milvus
Lite: it ranks as the store does, follows every change of liveness, and steps aside
(returns None) whenever it cannot answer for the generation asked."""

from __future__ import annotations

import time
from decimal import Decimal

import numpy as np
import pytest
import redis

from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import ProductFilter, ProductRecord
from pipeline.vectors.base import VectorRow
from pipeline.vectors.milvus import MilvusVectorStore
from pipeline.vectors.mirror import LiveVectorMirror
from tests.keys import KEYS


def unit(seed: int) -> np.ndarray:
    vec = np.random.default_rng(seed).standard_normal(768).astype(np.float32)
    return vec / np.linalg.norm(vec)


def record(i: int, *, seller: str = "s1", price: str | None = None, currency: str = "USD",
           name: str = "Mug") -> ProductRecord:  # fmt: skip
    return ProductRecord(
        product_id=ProductRecord.make_id(seller, f"r{i}"),
        seller_id=seller,
        retailer_id=f"r{i}",
        name=f"{name} {i}",
        price=Decimal(price if price is not None else str(i)),
        currency=currency,
        image_urls=(f"http://shop.example/{i}.jpg",),
        source_url="http://shop.example/c",
    )


def go_live(
    products: RedisProductStore, store: MilvusVectorStore, rec: ProductRecord, seed: int
) -> None:
    """What the pipeline does for one product: record, embed, approve, index."""
    products.put_many([rec])
    store.upsert([VectorRow(
        product_id=rec.product_id, seller_id=rec.seller_id, status="approved",
        price=float(rec.price) if rec.price is not None else None, currency=rec.currency,
        image_vector=unit(seed), text_vector=unit(seed + 1), content_hash=rec.content_hash,
        updated_at=time.time(),
    )])  # fmt: skip
    store.flush()
    products.set_status(rec.product_id, rec.content_hash, ProductStatus.APPROVED)
    products.mark_indexed(rec.product_id, rec.content_hash)


def ask(mirror: LiveVectorMirror, products: RedisProductStore, seed: int,
        filters: ProductFilter | None = None, limit: int = 10) -> list[str] | None:  # fmt: skip
    hits = mirror.search(unit(seed), filters or ProductFilter(), limit, products.generation())
    return None if hits is None else [h.product_id for h in hits]


def test_ranks_as_the_store_does_with_every_filter(
    redis_client: redis.Redis, store: MilvusVectorStore
) -> None:
    products = RedisProductStore(redis_client, KEYS)
    for i in range(40):
        seller, currency = ("s1", "USD") if i % 3 else ("s2", "EUR")
        go_live(products, store, record(i, seller=seller, currency=currency), seed=i)
    mirror = LiveVectorMirror(products, store, max_rows=1_000)
    cases = [
        ProductFilter(),
        ProductFilter(seller_id="s2"),
        ProductFilter(currency="EUR"),
        ProductFilter(min_price=Decimal("10"), max_price=Decimal("30")),
        ProductFilter(seller_id="s1", max_price=Decimal("20")),
    ]
    for filters in cases:
        for seed in (3, 1_000):
            wanted = store.search(unit(seed), filters=filters, limit=8)
            got = mirror.search(unit(seed), filters, 8, products.generation())
            assert got is not None
            assert [h.product_id for h in got] == [h.product_id for h in wanted], filters
            np.testing.assert_allclose([h.score for h in got], [h.score for h in wanted],
                                       atol=1e-4)  # fmt: skip
    assert ask(mirror, products, 3, ProductFilter(seller_id="nobody")) == []
    # Only approved products are mirrored: any other status is the store's to answer.
    assert ask(mirror, products, 3, ProductFilter(status="rejected")) is None
    assert mirror.size == 40


def test_follows_rejection_new_versions_and_removal(
    redis_client: redis.Redis, store: MilvusVectorStore
) -> None:
    products = RedisProductStore(redis_client, KEYS)
    recs = [record(i) for i in range(5)]
    for i, rec in enumerate(recs):
        go_live(products, store, rec, seed=i)
    mirror = LiveVectorMirror(products, store, max_rows=1_000)
    assert ask(mirror, products, 2, limit=1) == [recs[2].product_id]

    # Rejected: gone at the next generation.
    products.set_status(recs[2].product_id, recs[2].content_hash, ProductStatus.REJECTED)
    assert recs[2].product_id not in (ask(mirror, products, 2) or ["?"])

    # A new version: out while it is being processed, back with its new vector.
    new = record(3, name="Teapot")
    products.put_many([new])
    assert recs[3].product_id not in (ask(mirror, products, 3) or ["?"])
    go_live(products, store, new, seed=77)
    assert ask(mirror, products, 77, limit=1) == [new.product_id]
    assert ask(mirror, products, 3, limit=1) != [new.product_id]

    # Removed from the catalog.
    products.remove("s1", [recs[0].product_id])
    assert recs[0].product_id not in (ask(mirror, products, 0) or ["?"])
    assert mirror.size == 3


@pytest.mark.parametrize("store", ["lite-combined"], indirect=True)  # about the log, not the store
def test_a_mirror_behind_trimmed_removals_starts_over(
    redis_client: redis.Redis, store: MilvusVectorStore
) -> None:
    products = RedisProductStore(redis_client, KEYS)
    recs = [record(i) for i in range(4)]
    for i, rec in enumerate(recs):
        go_live(products, store, rec, seed=i)
    mirror = LiveVectorMirror(products, store, max_rows=1_000)
    assert ask(mirror, products, 0, limit=1) == [recs[0].product_id]

    # Two removals with room for one tombstone: the first leaves the log.
    products.remove("s1", [recs[0].product_id], max_tombstones=1)
    products.remove("s1", [recs[1].product_id], max_tombstones=1)
    assert recs[0].product_id not in dict(products.changes_since(0))
    found = ask(mirror, products, 0)
    assert found is not None and recs[0].product_id not in found
    assert sorted(found) == sorted(r.product_id for r in recs[2:])
    assert mirror.size == 2


def test_hands_a_live_products_image_vector_for_more_like_this(
    redis_client: redis.Redis, store: MilvusVectorStore
) -> None:
    products = RedisProductStore(redis_client, KEYS)
    recs = [record(i) for i in range(3)]
    for i, rec in enumerate(recs):
        go_live(products, store, rec, seed=i)
    mirror = LiveVectorMirror(products, store, max_rows=1_000)
    vector = mirror.image_vector(recs[1].product_id, products.generation())
    assert vector is not None
    np.testing.assert_allclose(vector, store.fetch([recs[1].product_id])[0].image_vector,
                               atol=1e-6)  # fmt: skip
    products.set_status(recs[1].product_id, recs[1].content_hash, ProductStatus.REJECTED)
    assert mirror.image_vector(recs[1].product_id, products.generation()) is None
    off = LiveVectorMirror(products, store, max_rows=0)  # disabled: the store answers
    assert off.image_vector(recs[0].product_id, products.generation()) is None


def test_a_big_catch_up_runs_in_the_background_while_the_store_answers(
    redis_client: redis.Redis, store: MilvusVectorStore
) -> None:
    products = RedisProductStore(redis_client, KEYS)
    for i in range(12):
        go_live(products, store, record(i), seed=i)
    mirror = LiveVectorMirror(products, store, max_rows=1_000, inline_limit=5)
    assert ask(mirror, products, 4) is None  # 12 changes > 5: loading in the background
    deadline = time.monotonic() + 30
    while (found := ask(mirror, products, 4, limit=1)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert found == [record(4).product_id]
    go_live(products, store, record(50), seed=50)  # a small delta: applied inline
    assert ask(mirror, products, 50, limit=1) == [record(50).product_id]


def test_steps_aside_past_max_rows(redis_client: redis.Redis, store: MilvusVectorStore) -> None:
    products = RedisProductStore(redis_client, KEYS)
    for i in range(6):
        go_live(products, store, record(i), seed=i)
    assert ask(LiveVectorMirror(products, store, max_rows=5), products, 1) is None
    assert ask(LiveVectorMirror(products, store, max_rows=0), products, 1) is None
    assert ask(LiveVectorMirror(products, store, max_rows=6), products, 1, limit=1) == [
        record(1).product_id
    ]
