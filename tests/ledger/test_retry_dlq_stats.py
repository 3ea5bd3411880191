"""Retry schedule on a controlled clock, dead-letter operations, stats and consumers."""

from __future__ import annotations

import redis

from pipeline.errors import PermanentError
from pipeline.ledger import RedisLedger
from pipeline.records import JobState, JobType
from pipeline.settings import JobSettings
from tests.keys import KEYS
from tests.ledger.conftest import ManualClock, qc_spec

QC = JobType.QUALITY_CONTROL


def test_backoff_is_2_4_8_seconds(redis_client: redis.Redis, clock: ManualClock) -> None:
    ledger = RedisLedger(
        redis_client, JobSettings(max_attempts=4, backoff_base=2.0), clock=clock, keys=KEYS
    )
    job = ledger.enqueue(qc_spec(1))
    waits = []
    for _ in range(3):
        (claimed,) = ledger.claim(QC, "w", 1)
        failed_at = clock.now
        assert ledger.fail(claimed, ConnectionError("gemini down")) == JobState.DELAYED
        delayed = ledger.get(job.id)
        assert delayed is not None and delayed.due_at is not None
        waits.append(delayed.due_at - failed_at)
        # Not a moment early ...
        clock.advance(waits[-1] - 0.01)
        assert ledger.claim(QC, "w", 1) == []
        clock.advance(0.01)
    assert waits == [2.0, 4.0, 8.0]
    (last,) = ledger.claim(QC, "w", 1)
    assert last.attempt == 4
    assert ledger.fail(last, ConnectionError("still down")) == JobState.DEAD
    assert ledger.check_invariants() == []


def test_jitter_stays_within_bounds(redis_client: redis.Redis, clock: ManualClock) -> None:
    ledger = RedisLedger(
        redis_client, JobSettings(backoff_base=2.0, backoff_jitter=0.5), clock=clock, keys=KEYS
    )
    delays = {ledger.backoff(3) for _ in range(50)}
    assert all(4.0 <= d <= 12.0 for d in delays) and len(delays) > 1


def _kill(ledger: RedisLedger, n: int, seller: str, job_type: JobType = QC) -> list[str]:
    jobs = ledger.enqueue_many([qc_spec(i, seller=seller) for i in range(n)])
    for claimed in ledger.claim(job_type, "w", n):
        ledger.fail(claimed, PermanentError(f"bad {claimed.payload['product_id']}"))
    return [j.id for j in jobs]


def test_dead_letters_list_show_replay_purge(ledger: RedisLedger, clock: ManualClock) -> None:
    a = _kill(ledger, 3, "sa")
    clock.advance(1)
    b = _kill(ledger, 2, "sb")
    newest_first = [j.id for j in ledger.dlq_list()]
    assert set(newest_first[:2]) == set(b) and set(newest_first[2:]) == set(a)
    assert {j.id for j in ledger.dlq_list(seller_id="sa")} == set(a)
    assert {j.id for j in ledger.dlq_list(type=QC, seller_id="sb")} == set(b)
    assert ledger.dlq_list(type=JobType.INDEX_PRODUCT) == []
    assert len(ledger.dlq_list(limit=2)) == 2 and len(ledger.dlq_list(limit=2, offset=4)) == 1
    shown = ledger.dlq_get(a[0])
    assert shown is not None and shown.payload["product_id"] == "p0"
    assert shown.errors and shown.errors[0]["error"]["message"] == "bad p0"
    assert ledger.dlq_get("unknown") is None

    assert ledger.replay(a[0])
    assert not ledger.replay(a[0])  # no longer dead
    replayed = ledger.get(a[0])
    assert replayed is not None and replayed.state == JobState.WAITING and replayed.attempt == 0
    assert replayed.replays == 1 and len(replayed.errors) == 1  # history kept
    (claimed,) = ledger.claim(QC, "w", 1)
    assert claimed.job_id == a[0] and claimed.attempt == 1
    assert ledger.complete(claimed)

    assert ledger.replay_many(seller_id="sb") == 2
    assert ledger.stats().types[QC].waiting == 2
    assert ledger.purge(type=QC, seller_id="sa") == 2
    assert ledger.dlq_list() == []
    assert ledger.get(a[1]) is None
    assert ledger.purge([b[0]]) == 0  # waiting, not dead: purge refuses it
    assert ledger.check_invariants() == []


def test_replayed_child_is_pending_again_for_its_parent(ledger: RedisLedger) -> None:
    from pipeline.ledger import JobSpec

    sync = ledger.enqueue(
        JobSpec(JobType.SYNC_SELLER, {"seller_id": "s1", "catalog_url": "https://wa.me/c/1"}, "s1")
    )
    (parent,) = ledger.claim(JobType.SYNC_SELLER, "sync", 1)
    ledger.add_children(sync.id, [qc_spec(1), qc_spec(2)])
    first, second = ledger.claim(QC, "w", 2)
    ledger.fail(first, PermanentError("bad"))
    assert ledger.replay(first.job_id)
    ledger.complete(parent)
    ledger.complete(second)
    held = ledger.get(sync.id)
    assert held is not None and held.state == JobState.ACTIVE  # the replayed child is pending
    (retry,) = ledger.claim(QC, "w", 1)
    ledger.complete(retry)
    done = ledger.get(sync.id)
    assert done is not None and done.state == JobState.COMPLETED
    assert done.children is not None and (done.children.completed, done.children.dead) == (2, 0)
    assert ledger.check_invariants() == []


def test_stats_per_type(ledger: RedisLedger, clock: ManualClock) -> None:
    ledger.enqueue_many([qc_spec(i) for i in range(6)])
    clock.advance(10)
    batch = ledger.claim(QC, "gpu-1", 4)
    clock.advance(2)
    ledger.complete_many([(c, None) for c in batch[:2]])
    ledger.fail(batch[2], ValueError("x"))
    ledger.fail(batch[3], PermanentError("y"))
    stats = ledger.stats()
    qc = stats.types[QC]
    assert (qc.waiting, qc.delayed, qc.active, qc.completed, qc.dead) == (2, 1, 0, 2, 1)
    assert qc.created == 6
    assert qc.completed_per_min == 2 and qc.failed_per_min == 2
    assert qc.failure_rate == 0.5
    assert qc.mean_duration_s == 2.0 and qc.p95_duration_s == 2.0
    assert qc.oldest_waiting_age_s == 12.0
    assert [(c.name, c.type, c.age_s) for c in stats.consumers] == [("gpu-1", QC.value, 0.0)]
    assert stats.types[JobType.INDEX_PRODUCT].oldest_waiting_age_s is None
    assert stats.to_dict()["types"][QC.value]["waiting"] == 2
