"""Per-seller product counts on a real redis-server: after any sequence of state changes
they equal a full count of the catalog, and a read costs the same at any catalog size."""

from __future__ import annotations

import random
import time

import redis

from pipeline.product_counts import BUCKETS
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import QCDecision
from tests.integration.test_products import product, verdict
from tests.keys import KEYS


def full_count(store: RedisProductStore, client: redis.Redis, seller_id: str) -> dict[str, int]:
    """The old way: read every product of the seller."""
    counts = dict.fromkeys(BUCKETS, 0)
    for pid in store.seller_product_ids(seller_id):
        status, live = client.hmget(f"cs:product:{pid}", ["status", "live"])  # type: ignore[misc]
        if live == b"1":
            counts["live"] += 1
        elif status in (b"rejected", b"flagged", b"failed"):
            counts[status.decode()] += 1
        else:
            counts["in_progress"] += 1
    return counts


def test_counts_follow_every_state_change(redis_client: redis.Redis) -> None:
    store = RedisProductStore(redis_client, KEYS)
    rng = random.Random(7)
    ids = [f"r{i}" for i in range(40)]
    store.put_many([product(r) for r in ids[:20]])
    assert store.seller_counts("s1") == {**dict.fromkeys(BUCKETS, 0), "in_progress": 20}
    statuses = list(ProductStatus)
    for step in range(600):
        rec = product(rng.choice(ids), name=rng.choice(["Red mug", "Blue mug"]))
        action = rng.random()
        if action < 0.2:
            store.put_many([rec])
        elif action < 0.3:
            store.remove("s1", [rec.product_id])
        elif action < 0.55:
            current = store.get(rec.product_id)
            if current is not None:
                store.mark_indexed(rec.product_id, current.record.content_hash)
        else:
            current = store.get(rec.product_id)
            content_hash = current.record.content_hash if current else rec.content_hash
            status = rng.choice(statuses)
            store.set_status(rec.product_id, content_hash, status, verdict(QCDecision.APPROVED))
        if step % 50 == 0:
            assert store.seller_counts("s1") == full_count(store, redis_client, "s1"), step
    assert store.seller_counts("s1") == full_count(store, redis_client, "s1")


def test_a_seller_counted_before_counts_existed_is_counted_once(
    redis_client: redis.Redis,
) -> None:
    store = RedisProductStore(redis_client, KEYS)
    records = [product(f"r{i}") for i in range(30)]
    store.put_many(records)
    for rec in records[:10]:
        store.set_status(rec.product_id, rec.content_hash, ProductStatus.REJECTED)
    redis_client.delete(KEYS.seller_counts("s1"))  # data from before the counts were kept
    store.set_status(records[10].product_id, records[10].content_hash, ProductStatus.FLAGGED)
    expected = full_count(store, redis_client, "s1")
    assert store.seller_counts("s1") == expected
    assert expected["rejected"] == 10 and expected["flagged"] == 1
    store.remove("s1", [records[0].product_id])
    assert store.seller_counts("s1")["rejected"] == 9


def test_a_read_costs_the_same_for_a_big_catalog(redis_client: redis.Redis) -> None:
    """One small hash read: the commands Redis ran for a read do not grow with the catalog."""
    store = RedisProductStore(redis_client, KEYS)
    store.put_many([product(f"r{i}") for i in range(2000)])
    store.seller_counts("s1")
    redis_client.config_resetstat()
    started = time.perf_counter()
    for _ in range(20):
        store.seller_counts("s1")
    assert time.perf_counter() - started < 5  # generous: a bound, not a benchmark
    stats = redis_client.info("commandstats")
    hmget_calls = int(stats.get("cmdstat_hmget", {}).get("calls", 0))
    assert hmget_calls == 0, stats  # the old count ran one HMGET per product per read
