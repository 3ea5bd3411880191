"""Two dispatchers race for the same jobs: no job completed twice, no effect applied twice.

Both run the real ``IndexHandler`` over one tantivy index and the Redis product store.
Some first attempts block their dispatcher's event loop past the lease (a GC pause, a
stuck call), so the heartbeat stops, the other dispatcher reclaims the job and finishes
it, and the late finisher's ack is refused by the fencing token.
"""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import redis

from pipeline.dispatcher import Dispatcher
from pipeline.keyword.factory import open_keyword_index
from pipeline.ledger import ClaimedJob, JobSpec, RedisLedger
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import JobType, ProductRecord, QCDecision, QCVerdict
from pipeline.settings import Settings
from pipeline.stages.base import Outcome
from pipeline.stages.index import IndexHandler
from tests.keys import KEYS
from tests.reliability.harness import all_events, record_outcome, wait_for

JOBS = 300
LEASE_S = 1.0
# A stall blocks every job its dispatcher holds, not just the stalling batch, and a lost
# lease counts as an attempt; on a loaded machine one job can lose several leases in a
# row. Enough attempts that none runs out: this test is about double completion, not
# about the dead-letter path (test_crash_* cover that).
MAX_ATTEMPTS = 30


class StallingIndexHandler:
    """The real index handler; the first attempt of about one job in 15 stalls the loop."""

    def __init__(self, inner: IndexHandler, runs: list[tuple[str, int]]) -> None:
        self._inner = inner
        self._runs = runs
        self.job_type = inner.job_type
        self.batch_size = 8

    async def handle(self, jobs: Sequence[ClaimedJob]) -> list[Outcome]:
        self._runs.extend((j.job_id, j.token) for j in jobs)
        if any(
            j.attempt == 1 and zlib.crc32(j.payload["product_id"].encode()) % 15 == 0 for j in jobs
        ):
            time.sleep(LEASE_S * 2.5)  # blocks heartbeats too: the lease runs out
        return await self._inner.handle(jobs)


def _products(count: int) -> list[ProductRecord]:
    return [
        ProductRecord(
            product_id=ProductRecord.make_id("race", f"r{i:04d}"),
            seller_id="race",
            retailer_id=f"r{i:04d}",
            name=f"Race product {i}",
            price=Decimal(10),
            currency="USD",
            image_urls=(f"http://shop.example/{i}.jpg",),
            source_url="http://shop.example/c/race",
        )
        for i in range(count)
    ]


def test_two_dispatchers_never_complete_or_apply_a_job_twice(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path
) -> None:
    settings = settings.with_overrides(jobs={"max_attempts": MAX_ATTEMPTS, "backoff_base": 0.1})
    ledger = RedisLedger(redis_client, settings.jobs, keys=KEYS)
    products = RedisProductStore(redis_client, KEYS)
    records = _products(JOBS)
    products.put_many(records)
    verdict = QCVerdict(decision=QCDecision.APPROVED, model="test", policy_version="p1")
    for rec in records:
        products.set_status(rec.product_id, rec.content_hash, ProductStatus.APPROVED, verdict)
    keywords = open_keyword_index(settings, writable=True)
    runs: list[tuple[str, int]] = []
    dispatchers = [
        Dispatcher(
            ledger,
            [StallingIndexHandler(IndexHandler(keywords, products, 8), runs)],
            concurrency=4,
            lease_s=LEASE_S,
            # Under load a plain batch can take longer than the lease; a timed-out call
            # would be a failure with backoff, which this test is not about.
            call_timeout_s=30,
            consumer=f"racer-{i}",
        )
        for i in range(2)
    ]
    stops: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
    ready = threading.Barrier(3, timeout=30)

    def run(dispatcher: Dispatcher) -> None:
        async def main() -> None:
            stop = asyncio.Event()
            stops.append((asyncio.get_running_loop(), stop))
            ready.wait()
            await dispatcher.run(stop, grace_s=10)

        asyncio.run(main())

    threads = [threading.Thread(target=run, args=(d,), daemon=True) for d in dispatchers]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.monotonic()
    ledger.enqueue_many(
        [
            JobSpec(
                type=JobType.INDEX_PRODUCT,
                payload={
                    "product_id": r.product_id,
                    "seller_id": r.seller_id,
                    "content_hash": r.content_hash,
                },
                seller_id=r.seller_id,
            )
            for r in records
        ]
    )
    try:

        def finished() -> bool:
            stats = ledger.stats().types[JobType.INDEX_PRODUCT.value]
            return stats.completed + stats.dead == JOBS

        wait_for(finished, 180, "every index job completed or dead", 0.2)
    finally:
        for loop, stop in stops:
            loop.call_soon_threadsafe(stop.set)
        for thread in threads:
            thread.join(60)
    elapsed = time.monotonic() - started

    assert ledger.check_invariants() == []
    stats = ledger.stats().types[JobType.INDEX_PRODUCT.value]
    assert (stats.completed, stats.dead, stats.active, stats.waiting) == (JOBS, 0, 0, 0)
    # Both raced: some jobs ran twice, yet only one ack per job was accepted.
    assert len(runs) > JOBS and len({r[0] for r in runs}) == JOBS
    assert sum(d.stats.completed for d in dispatchers) == JOBS
    assert all(d.stats.completed > 0 for d in dispatchers)
    completions = [e.job_id for e in all_events(ledger) if e.to_state == "completed"]
    assert sorted(completions) == sorted(set(completions)) and len(completions) == JOBS
    # Effects: one document per product, each product live once.
    keywords.refresh()
    assert keywords.count() == JOBS
    assert products.seller_counts("race")["live"] == JOBS
    keywords.close()
    record_outcome(
        "two dispatchers racing",
        jobs=JOBS,
        runs=len(runs),
        refused_late_acks=len(runs) - JOBS,
        completed_twice=0,
        documents=JOBS,
        seconds=round(elapsed, 1),
    )
