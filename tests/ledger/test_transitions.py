"""Every transition of a job, with the invariants checked after each (real redis-server)."""

from __future__ import annotations

import pytest
import redis

from pipeline.errors import PermanentError, RetryableError
from pipeline.ledger import JobSpec, RedisLedger, StaleTokenError
from pipeline.records import JobState, JobType, Priority, ProductRecord
from tests.keys import KEYS
from tests.ledger.conftest import ManualClock, qc_spec

QC = JobType.QUALITY_CONTROL


def sound(ledger: RedisLedger) -> None:
    assert ledger.check_invariants() == []


def state(ledger: RedisLedger, job_id: str) -> JobState:
    job = ledger.get(job_id)
    assert job is not None
    return job.state


def test_enqueue_claim_complete(ledger: RedisLedger, clock: ManualClock) -> None:
    job = ledger.enqueue(qc_spec(1))
    assert job.state == JobState.WAITING and job.attempt == 0 and job.max_attempts == 3
    stored = ledger.get(job.id)
    assert stored is not None
    assert stored.payload == {
        "product_id": "p1",
        "seller_id": "s1",
        "content_hash": "00000001",
        "redo": 0,
    }
    assert stored.created_at == clock.now
    sound(ledger)

    clock.advance(1.0)
    (claimed,) = ledger.claim(QC, "w1", 10)
    assert claimed.job_id == job.id and claimed.attempt == 1 and claimed.seller_id == "s1"
    active = ledger.get(job.id)
    assert active is not None and active.state == JobState.ACTIVE
    assert active.started_at == clock.now and active.lease_until == clock.now + 30
    assert active.consumer == "w1"
    sound(ledger)

    clock.advance(2.5)
    assert ledger.progress(claimed, 50, "half way")
    mid = ledger.get(job.id)
    assert mid is not None and mid.progress == 50 and mid.progress_message == "half way"
    assert ledger.complete(claimed, {"verdict": "approved"})
    done = ledger.get(job.id)
    assert done is not None and done.state == JobState.COMPLETED
    assert done.result == {"verdict": "approved"} and done.progress == 100
    assert done.finished_at == clock.now
    sound(ledger)
    # Completing twice is refused: the token died with the attempt.
    assert not ledger.complete(claimed)
    assert ledger.claim(QC, "w1", 10) == []
    events = [(e.from_state, e.to_state) for e in ledger.events() if e.job_id == job.id]
    assert events == [("", "waiting"), ("waiting", "active"), ("active", "active"),
                      ("active", "completed")]  # fmt: skip


def test_retryable_failure_then_dead_after_last_attempt(
    ledger: RedisLedger, clock: ManualClock
) -> None:
    job = ledger.enqueue(qc_spec(1))
    for attempt in (1, 2):
        (claimed,) = ledger.claim(QC, "w1", 1)
        assert claimed.attempt == attempt
        assert ledger.fail(claimed, ValueError(f"boom {attempt}")) == JobState.DELAYED
        sound(ledger)
        assert ledger.claim(QC, "w1", 1) == []  # not due yet
        clock.advance(2.0 * 2 ** (attempt - 1))
    (claimed,) = ledger.claim(QC, "w1", 1)
    assert claimed.attempt == 3 and claimed.is_last_attempt
    assert ledger.fail(claimed, RetryableError("still down")) == JobState.DEAD
    sound(ledger)
    dead = ledger.dlq_get(job.id)
    assert dead is not None and dead.attempt == 3
    assert [e["attempt"] for e in dead.errors] == [1, 2, 3]
    assert dead.errors[0]["error"]["message"] == "boom 1"
    assert dead.errors[0]["error"]["type"] == "builtins.ValueError"
    assert (
        "Traceback" in dead.errors[0]["error"]["traceback"] or dead.errors[0]["error"]["traceback"]
    )
    assert dead.errors[2]["error"]["type"] == "pipeline.errors.RetryableError"
    assert dead.last_error is not None and dead.last_error["message"] == "still down"


def test_permanent_failure_is_dead_at_once(ledger: RedisLedger) -> None:
    job = ledger.enqueue(qc_spec(1))
    (claimed,) = ledger.claim(QC, "w1", 1)
    assert ledger.fail(claimed, PermanentError("image is not a product")) == JobState.DEAD
    assert state(ledger, job.id) == JobState.DEAD
    sound(ledger)


def test_retry_delay_from_the_error_wins(ledger: RedisLedger, clock: ManualClock) -> None:
    job = ledger.enqueue(qc_spec(1))
    (claimed,) = ledger.claim(QC, "w1", 1)
    ledger.fail(claimed, RetryableError("429", delay=30.0))
    delayed = ledger.get(job.id)
    assert delayed is not None and delayed.due_at == clock.now + 30.0
    clock.advance(29.9)
    assert ledger.claim(QC, "w1", 1) == []
    clock.advance(0.2)
    assert len(ledger.claim(QC, "w1", 1)) == 1


def test_lease_expiry_is_an_attempt_and_fences_the_old_token(
    ledger: RedisLedger, clock: ManualClock
) -> None:
    job = ledger.enqueue(qc_spec(1))
    (first,) = ledger.claim(QC, "slow", 1)
    clock.advance(31.0)  # lease (30 s) ran out
    (second,) = ledger.claim(QC, "fast", 1)
    assert second.job_id == job.id and second.attempt == 2 and second.token != first.token
    sound(ledger)
    # The slow first attempt reports late: every report is refused.
    assert not ledger.complete(first, {"late": True})
    assert not ledger.heartbeat(first)
    assert not ledger.progress(first, 10)
    with pytest.raises(StaleTokenError):
        ledger.fail(first, ValueError("late failure"))
    assert ledger.complete(second, {"ok": True})
    done = ledger.get(job.id)
    assert done is not None and done.result == {"ok": True}
    assert [e["error"]["type"] for e in done.errors] == ["LeaseExpired"]
    assert done.errors[0]["consumer"] == "slow"
    sound(ledger)


def test_lease_expiry_on_the_last_attempt_is_dead(ledger: RedisLedger, clock: ManualClock) -> None:
    job = ledger.enqueue(qc_spec(1, max_attempts=1))
    ledger.claim(QC, "w1", 1)
    clock.advance(31.0)
    assert ledger.maintain() == (1, 0)
    assert state(ledger, job.id) == JobState.DEAD
    sound(ledger)


def test_heartbeat_extends_the_lease(ledger: RedisLedger, clock: ManualClock) -> None:
    job = ledger.enqueue(qc_spec(1))
    (claimed,) = ledger.claim(QC, "w1", 1)
    for _ in range(3):
        clock.advance(20.0)
        assert ledger.heartbeat(claimed)
    clock.advance(20.0)
    assert ledger.claim(QC, "w2", 1) == []  # 80 s after the claim, still held
    assert ledger.complete(claimed)
    assert state(ledger, job.id) == JobState.COMPLETED


def test_claim_in_batches_high_priority_first(ledger: RedisLedger) -> None:
    low = ledger.enqueue_many([qc_spec(i, priority=Priority.LOW) for i in range(3)])
    normal = ledger.enqueue_many([qc_spec(10 + i) for i in range(3)])
    high = ledger.enqueue_many([qc_spec(20 + i, priority=Priority.HIGH) for i in range(3)])
    batch = ledger.claim(QC, "gpu", 4)
    assert [c.job_id for c in batch] == [j.id for j in high] + [normal[0].id]
    rest = ledger.claim(QC, "gpu", 100)
    assert [c.job_id for c in rest] == [j.id for j in normal[1:] + low]
    assert all(ledger.complete_many([(c, None) for c in batch + rest]))
    sound(ledger)


def test_idempotency_key_returns_the_live_job(ledger: RedisLedger) -> None:
    first = ledger.enqueue(qc_spec(1, idempotency_key="qc:p1:00000001"))
    again = ledger.enqueue_many(
        [qc_spec(1, idempotency_key="qc:p1:00000001"), qc_spec(2, idempotency_key="qc:p2:x")]
    )
    assert again[0].id == first.id and again[1].id != first.id
    (claimed, _) = ledger.claim(QC, "w1", 2)
    ledger.complete(claimed)
    # Completed (and not trimmed) is still live: no new job.
    assert ledger.enqueue(qc_spec(1, idempotency_key="qc:p1:00000001")).id == first.id
    sound(ledger)


def test_dead_job_releases_its_idempotency_key(ledger: RedisLedger) -> None:
    first = ledger.enqueue(qc_spec(1, idempotency_key="k"))
    (claimed,) = ledger.claim(QC, "w1", 1)
    ledger.fail(claimed, PermanentError("bad"))
    second = ledger.enqueue(qc_spec(1, idempotency_key="k"))
    assert second.id != first.id and second.state == JobState.WAITING
    sound(ledger)


def test_bulk_enqueue_of_10000_is_a_few_round_trips(
    ledger: RedisLedger, redis_client: redis.Redis
) -> None:
    before = redis_client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    jobs = ledger.enqueue_many([qc_spec(i) for i in range(10_000)])
    after = redis_client.info("commandstats")["cmdstat_evalsha"]["calls"]
    assert len({j.id for j in jobs}) == 10_000
    assert after - before <= 10  # 1,000 jobs a script call, all in one pipeline
    assert ledger.stats().types[QC].waiting == 10_000
    sound(ledger)


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"product_id": "p1", "seller_id": "s1"}, "content_hash"),
        ({"product_id": "p1", "seller_id": "s1", "content_hash": "zz"}, "content_hash"),
        ({"product_id": "p1", "seller_id": "s1", "content_hash": "abcdef12", "x": 1}, "x"),
        ({"product_id": "p 1", "seller_id": "s1", "content_hash": "abcdef12"}, "product_id"),
        ({"product_id": "p1", "seller_id": "s2", "content_hash": "abcdef12"}, "seller"),
    ],
)
def test_invalid_payload_is_refused(
    ledger: RedisLedger, payload: dict[str, object], needle: str
) -> None:
    with pytest.raises(PermanentError, match=needle):
        ledger.enqueue(JobSpec(QC, payload, "s1"))
    assert ledger.stats().types[QC].created == 0


def test_every_payload_type_validates(ledger: RedisLedger) -> None:
    product = ProductRecord(
        product_id="s1:abc", seller_id="s1", name="Red shoe", source_url="https://x.test/p/1"
    )
    specs = [
        JobSpec(JobType.SYNC_SELLER, {"seller_id": "s1", "catalog_url": "https://wa.me/c/1"}, "s1"),
        JobSpec(
            JobType.SCRAPE_CATALOG,
            {"seller_id": "s1", "catalog_url": "https://wa.me/c/1", "source": "playwright"},
            "s1",
        ),  # fmt: skip
        JobSpec(JobType.GENERATE_EMBEDDING, {"product": product}, "s1"),
        JobSpec(
            JobType.INDEX_PRODUCT,
            {"product_id": "s1:abc", "seller_id": "s1", "content_hash": product.content_hash},
            "s1",
        ),  # fmt: skip
    ]
    jobs = ledger.enqueue_many(specs)
    assert jobs[0].payload["source"] == "auto"
    (embed,) = ledger.claim(JobType.GENERATE_EMBEDDING, "gpu", 8)
    assert ProductRecord.model_validate(embed.payload["product"]) == product
    with pytest.raises(PermanentError, match="catalog_url"):
        ledger.enqueue(
            JobSpec(
                JobType.SYNC_SELLER, {"seller_id": "s1", "catalog_url": "file:///etc/passwd"}, "s1"
            )
        )
    sound(ledger)


def test_parent_completes_when_its_children_end(ledger: RedisLedger) -> None:
    sync = ledger.enqueue(
        JobSpec(JobType.SYNC_SELLER, {"seller_id": "s1", "catalog_url": "https://wa.me/c/1"}, "s1")
    )
    (parent,) = ledger.claim(JobType.SYNC_SELLER, "sync", 1)
    children = ledger.add_children(sync.id, [qc_spec(i) for i in range(3)])
    assert all(c.parent_id == sync.id for c in children)
    # The sync job finishes its own work; its children are still pending.
    assert ledger.complete(parent, {"products": 3})
    waiting_parent = ledger.get(sync.id)
    assert waiting_parent is not None
    assert waiting_parent.state == JobState.ACTIVE and waiting_parent.awaiting_children
    sound(ledger)
    batch = ledger.claim(QC, "w", 3)
    ledger.complete_many([(c, None) for c in batch[:2]])
    assert ledger.fail(batch[2], PermanentError("bad image")) == JobState.DEAD
    done = ledger.get(sync.id)
    assert done is not None and done.state == JobState.COMPLETED
    assert done.result == {"products": 3}
    summary = ledger.children_summary(sync.id)
    assert summary is not None
    assert (summary.total, summary.completed, summary.dead, summary.pending) == (3, 2, 1, 0)
    assert summary.by_type == {QC.value: {"total": 3, "completed": 2, "dead": 1}}
    sound(ledger)


def test_children_only_for_an_active_parent(ledger: RedisLedger) -> None:
    job = ledger.enqueue(qc_spec(1))
    with pytest.raises(PermanentError, match="waiting"):
        ledger.add_children(job.id, [qc_spec(2)])
    with pytest.raises(PermanentError, match="missing"):
        ledger.add_children("nope", [qc_spec(2)])
    assert ledger.stats().types[QC].created == 1
    sound(ledger)


def test_parent_without_pending_children_completes_at_once(ledger: RedisLedger) -> None:
    sync = ledger.enqueue(
        JobSpec(JobType.SYNC_SELLER, {"seller_id": "s1", "catalog_url": "https://wa.me/c/1"}, "s1")
    )
    (parent,) = ledger.claim(JobType.SYNC_SELLER, "sync", 1)
    ledger.add_children(sync.id, [qc_spec(1)])
    (child,) = ledger.claim(QC, "w", 1)
    ledger.complete(child)
    assert state(ledger, sync.id) == JobState.ACTIVE  # its own work is not done yet
    ledger.complete(parent)
    assert state(ledger, sync.id) == JobState.COMPLETED
    sound(ledger)


def test_completed_jobs_are_trimmed_by_count_and_age(
    redis_client: redis.Redis, clock: ManualClock
) -> None:
    from pipeline.settings import JobSettings

    ledger = RedisLedger(
        redis_client,
        JobSettings(completed_keep_count=5, completed_keep_seconds=60),
        clock=clock,
        keys=KEYS,
    )
    jobs = ledger.enqueue_many([qc_spec(i, idempotency_key=f"k{i}") for i in range(8)])
    ledger.complete_many([(c, None) for c in ledger.claim(QC, "w", 8)])
    assert ledger.stats().types[QC].completed == 5
    kept = [j for j in jobs if ledger.get(j.id) is not None]
    assert len(kept) == 5
    # A trimmed job frees its idempotency key; a kept one holds it.
    held = {j.idempotency_key for j in kept}
    for job in jobs:
        assert (redis_client.get(f"cs:idem:{job.idempotency_key}") is not None) == (
            job.idempotency_key in held
        )
    clock.advance(61)
    assert ledger.maintain() == (0, 5)
    assert ledger.stats().types[QC].completed == 0
    sound(ledger)


def test_events_can_be_followed(ledger: RedisLedger) -> None:
    ledger.enqueue(qc_spec(1))
    first = ledger.events()
    assert len(first) == 1 and first[0].to_state == "waiting" and first[0].seller_id == "s1"
    ledger.claim(QC, "w", 1)
    after = ledger.events(after_id=first[-1].id)
    assert [(e.from_state, e.to_state) for e in after] == [("waiting", "active")]
    assert ledger.events_key == "cs:events"


def test_blocking_claim_wakes_when_a_job_arrives(redis_client: redis.Redis, redis_url: str) -> None:
    import threading
    import time

    from pipeline.settings import JobSettings

    ledger = RedisLedger(redis_client, JobSettings(), keys=KEYS)
    other = redis.Redis.from_url(redis_url)
    producer = RedisLedger(other, JobSettings(), keys=KEYS)
    timer = threading.Timer(0.3, lambda: producer.enqueue(qc_spec(1)))
    timer.start()
    started = time.monotonic()
    try:
        claimed = ledger.claim(QC, "w", 5, block_ms=5000)
    finally:
        timer.join(timeout=10)
        other.close()
    assert len(claimed) == 1 and 0.25 <= time.monotonic() - started < 3.0
    started = time.monotonic()
    assert ledger.claim(QC, "w", 5, block_ms=300) == []
    assert 0.29 <= time.monotonic() - started < 3.0


def test_progress_must_be_a_percentage(ledger: RedisLedger) -> None:
    ledger.enqueue(qc_spec(1))
    (claimed,) = ledger.claim(QC, "w", 1)
    with pytest.raises(ValueError, match="0-100"):
        ledger.progress(claimed, 101)
