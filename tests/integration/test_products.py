"""The product store on a real redis-server: diffing, stale-version guards, liveness."""

from __future__ import annotations

from decimal import Decimal

import redis

from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import ProductRecord, QCDecision, QCVerdict
from tests.keys import KEYS


def product(retailer_id: str, name: str = "Red mug", price: str = "12.50") -> ProductRecord:
    return ProductRecord(
        product_id=ProductRecord.make_id("s1", retailer_id),
        seller_id="s1",
        retailer_id=retailer_id,
        name=name,
        price=Decimal(price),
        currency="USD",
        image_urls=(f"http://shop.example/{retailer_id}.jpg",),
        source_url="http://shop.example/c/1",
    )


def verdict(decision: QCDecision) -> QCVerdict:
    return QCVerdict(decision=decision, model="test", policy_version="p1")


def test_diff_new_changed_unchanged_removed(redis_client: redis.Redis) -> None:
    store = RedisProductStore(redis_client, KEYS)
    a, b, c = product("a"), product("b"), product("c")
    first = store.diff("s1", [a, b, c])
    assert [p.retailer_id for p in first.changed] == ["a", "b", "c"] and not first.removed
    store.put_many(first.changed)
    for p in (a, b, c):
        store.set_status(p.product_id, p.content_hash, ProductStatus.REJECTED)

    b2 = product("b", name="Blue mug")
    second = store.diff("s1", [a, b2])
    assert [p.retailer_id for p in second.changed] == ["b"]
    assert [p.retailer_id for p in second.unchanged] == ["a"]
    assert second.removed == [c.product_id]


def test_unfinished_products_are_redone_on_resync(redis_client: redis.Redis) -> None:
    """Pending, embedded, failed, or approved-but-not-indexed: a crash cut them short."""
    store = RedisProductStore(redis_client, KEYS)
    a = product("a")
    store.put_many([a])
    assert [p.product_id for p in store.diff("s1", [a]).changed] == [a.product_id]
    for status in (ProductStatus.EMBEDDED, ProductStatus.FAILED, ProductStatus.APPROVED):
        store.set_status(a.product_id, a.content_hash, status)
        assert [p.product_id for p in store.diff("s1", [a]).changed] == [a.product_id]
    store.mark_indexed(a.product_id, a.content_hash)
    assert store.diff("s1", [a]).unchanged == [a]


def test_live_only_when_approved_and_indexed_for_the_same_version(
    redis_client: redis.Redis,
) -> None:
    store = RedisProductStore(redis_client, KEYS)
    a = product("a")
    store.put_many([a])
    gen = store.generation()
    assert store.set_status(
        a.product_id, a.content_hash, ProductStatus.APPROVED, verdict(QCDecision.APPROVED)
    )
    assert store.generation() > gen
    stored = store.get(a.product_id)
    assert stored is not None and not stored.live and stored.verdict is not None
    assert store.mark_indexed(a.product_id, a.content_hash)
    stored = store.get(a.product_id)
    assert stored is not None and stored.live and stored.status is ProductStatus.APPROVED

    # A new version arrives: it is not live until it is checked and indexed again.
    a2 = product("a", price="13.00")
    store.put_many([a2])
    stored = store.get(a.product_id)
    assert stored is not None and not stored.live and stored.status is ProductStatus.PENDING
    # A late finisher for the old version changes nothing.
    assert not store.set_status(a.product_id, a.content_hash, ProductStatus.APPROVED)
    assert not store.mark_indexed(a.product_id, a.content_hash)
    assert store.set_status(a2.product_id, a2.content_hash, ProductStatus.REJECTED)
    assert store.mark_indexed(a2.product_id, a2.content_hash)
    stored = store.get(a.product_id)
    assert stored is not None and not stored.live


def test_remove_and_listing(redis_client: redis.Redis) -> None:
    store = RedisProductStore(redis_client, KEYS)
    a, b = product("a"), product("b")
    store.put_many([a, b])
    assert store.seller_product_ids("s1") == sorted([a.product_id, b.product_id])
    store.remove("s1", [a.product_id])
    assert store.get(a.product_id) is None
    assert set(store.get_many([a.product_id, b.product_id])) == {b.product_id}
    assert store.diff("s1", []).removed == [b.product_id]


def test_the_same_version_written_again_keeps_its_progress(redis_client: redis.Redis) -> None:
    """A retried scrape writes the versions it already wrote: their jobs are under way,
    so an approved product still goes live when its index job lands."""
    store = RedisProductStore(redis_client, KEYS)
    a, b = product("a"), product("b")
    store.put_many([a, b])
    store.set_status(
        a.product_id, a.content_hash, ProductStatus.APPROVED, verdict(QCDecision.APPROVED)
    )
    store.set_status(b.product_id, b.content_hash, ProductStatus.FAILED)
    counts = store.seller_counts("s1")

    store.put_many([a, b])
    kept = store.get_many([a.product_id, b.product_id])
    assert kept[a.product_id].status is ProductStatus.APPROVED
    assert kept[a.product_id].verdict is not None
    assert kept[b.product_id].status is ProductStatus.FAILED
    assert store.seller_counts("s1") == counts
    assert store.mark_indexed(a.product_id, a.content_hash)
    stored = store.get(a.product_id)
    assert stored is not None and stored.live


def test_removed_products_leave_the_change_log_past_the_tombstone_limit(
    redis_client: redis.Redis,
) -> None:
    """The log keeps one entry per product: removed ones only up to a limit, oldest out
    first, with the floor at the newest generation trimmed; a product back in the
    catalog is no tombstone."""
    store = RedisProductStore(redis_client, KEYS)
    a, b, c = product("a"), product("b"), product("c")
    store.put_many([a, b, c])
    store.remove("s1", [a.product_id], max_tombstones=2)
    removed_a = store.generation()
    store.remove("s1", [b.product_id], max_tombstones=2)
    store.put_many([b])  # back again
    store.remove("s1", [c.product_id], max_tombstones=2)
    assert store.changes_floor() == 0
    logged = dict(store.changes_since(0))
    assert set(logged) == {a.product_id, b.product_id, c.product_id}

    store.put_many([d := product("d")])
    store.remove("s1", [d.product_id], max_tombstones=2)  # a, c, d: a leaves
    assert set(dict(store.changes_since(0))) == {b.product_id, c.product_id, d.product_id}
    assert store.changes_floor() == removed_a
