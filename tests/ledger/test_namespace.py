"""REDIS_NAMESPACE: every key the ledger and the stores write, Lua scripts included, lies
under the namespace, so two deployments on one Redis never see each other's jobs."""

from __future__ import annotations

import json

import redis

from pipeline.errors import PermanentError, RetryableError
from pipeline.ledger import JobSpec, RedisLedger
from pipeline.products import RedisProductStore
from pipeline.records import JobState, JobType
from pipeline.redis_keys import RedisKeys
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import JobSettings, Settings
from pipeline.syncs import start_sync, sync_view
from tests.ledger.conftest import ManualClock, qc_spec
from tests.qc.conftest import product as product_record

QC = JobType.QUALITY_CONTROL


def _every_transition(ledger: RedisLedger, clock: ManualClock) -> None:
    sync = ledger.enqueue(
        JobSpec(JobType.SYNC_SELLER, {"seller_id": "s1", "catalog_url": "https://wa.me/c/1"}, "s1")
    )
    (parent,) = ledger.claim(JobType.SYNC_SELLER, "w", 1)
    ledger.add_children(sync.id, [qc_spec(1), qc_spec(2, idempotency_key="k2"), qc_spec(3)])
    ledger.complete(parent)
    first, second, third = ledger.claim(QC, "w", 3)
    ledger.heartbeat(first)
    ledger.progress(first, 50.0, "half")
    ledger.fail(first, PermanentError("bad"))
    ledger.fail(second, RetryableError("later"))
    clock.advance(60)  # the retry is due; the third lease has expired
    ledger.maintain()
    assert ledger.replay(first.job_id)
    for job in ledger.claim(QC, "w", 10):
        ledger.complete(job, {"ok": True})
    assert third.job_id
    ledger.stats()
    assert ledger.check_invariants() == []
    done = ledger.get(sync.id)
    assert done is not None and done.state == JobState.COMPLETED


def test_every_ledger_key_lies_under_the_namespace(
    redis_client: redis.Redis, clock: ManualClock
) -> None:
    keys = RedisKeys("shop2")
    ledger = RedisLedger(redis_client, JobSettings(timeout=30.0), clock=clock, keys=keys)
    _every_transition(ledger, clock)
    ledger.purge()  # nothing dead: still one script call that must find its keys
    written = sorted(k.decode() for k in redis_client.keys("*"))
    assert written, "the ledger wrote nothing"
    assert [k for k in written if not k.startswith("shop2:")] == []
    # The scripts wrote the names Python reads: a job hash, its attempts, the events.
    assert any(k == keys.events for k in written)
    assert any(k.endswith(":attempts") and k.startswith(keys.job("")) for k in written)


def test_two_namespaces_on_one_redis_stay_apart(
    redis_client: redis.Redis, clock: ManualClock
) -> None:
    a = RedisLedger(redis_client, JobSettings(), clock=clock, keys=RedisKeys("a"))
    b = RedisLedger(redis_client, JobSettings(), clock=clock, keys=RedisKeys("b"))
    a.enqueue(qc_spec(1, idempotency_key="same"))
    assert b.claim(QC, "w", 5) == []
    assert b.enqueue(qc_spec(1, idempotency_key="same")).id != a.claim(QC, "w", 1)[0].job_id


def test_the_namespace_comes_from_settings(redis_client: redis.Redis) -> None:
    settings = Settings.defaults().with_overrides(redis={"namespace": "east"})
    keys = settings.redis.keys
    ledger = RedisLedger(redis_client, settings.jobs, keys=keys)
    started = start_sync(ledger, redis_client, "s1", "https://wa.me/c/1")
    RedisSellerDirectory(redis_client, keys).upsert("s1")
    products = RedisProductStore(redis_client, keys)
    products.put_many([product_record("p1")])
    products.remove("s1", ["p1"])
    assert sync_view(ledger, redis_client, started.sync_id) is not None
    written = [k.decode() for k in redis_client.keys("*")]
    assert written and all(k.startswith("east:") for k in written), written


def test_the_lua_layout_names_what_the_methods_name() -> None:
    keys = RedisKeys("ns1")
    layout = json.loads(keys.lua_layout)
    assert layout["job"] + "j1" == keys.job("j1")
    assert layout["job"] + "j1" + layout["attempts_suffix"] == keys.attempts("j1")
    assert layout["job"] + "j1" + layout["children_suffix"] == keys.children("j1")
    assert layout["q"] + "qc:1" == keys.queue("qc", 1)
    assert layout["m"] + "qc:7" == keys.minute("qc", 7)
    for name, method in [
        ("delayed", keys.delayed), ("active", keys.active), ("awaiting", keys.awaiting),
        ("done", keys.done), ("dead", keys.dead), ("dead-seller", keys.dead_seller),
        ("count", keys.counters), ("dur", keys.durations), ("idem", keys.idempotency),
        ("signal", keys.signal),
    ]:  # fmt: skip
        assert layout[name] + "x" == method("x"), name
    assert (layout["dead_all"], layout["events"]) == (keys.dead(), keys.events)
    assert (layout["consumers"], layout["fence"]) == (keys.consumers, keys.fence)
