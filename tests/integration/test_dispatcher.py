"""The dispatcher on a real ledger, with small stage handlers of our own protocol."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import redis

from pipeline.dispatcher import Dispatcher
from pipeline.errors import PermanentError, RetryableError
from pipeline.ledger import ClaimedJob, JobSpec, RedisLedger
from pipeline.records import JobState, JobType
from pipeline.settings import Settings
from pipeline.stages.base import Outcome, child_spec
from pipeline.stages.scrape import SyncSellerHandler
from tests.keys import KEYS

QC_PAYLOAD = {"product_id": "s1:p", "seller_id": "s1", "content_hash": "abcdef0123456789"}


class FanOut:
    """scrape-catalog: spawns three quality-control children of the sync."""

    job_type = JobType.SCRAPE_CATALOG
    batch_size = 1

    async def handle(self, jobs: Sequence[ClaimedJob]) -> list[Outcome]:
        out = []
        for job in jobs:
            kids = [
                child_spec(
                    job,
                    JobType.QUALITY_CONTROL,
                    {**QC_PAYLOAD, "product_id": f"s1:p{i}"},
                    f"qc:{job.job_id}:{i}",
                )
                for i in range(3)
            ]
            out.append(Outcome(job, {"children": 3}, follow_up=kids))
        return out


class Checker:
    """quality-control: p0 passes, p1 fails once then passes, p2 is invalid data."""

    job_type = JobType.QUALITY_CONTROL
    batch_size = 1

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.running = 0
        self.max_running = 0

    async def handle(self, jobs: Sequence[ClaimedJob]) -> list[Outcome]:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await asyncio.sleep(0.05)
            out = []
            for job in jobs:
                pid = job.payload["product_id"]
                self.calls[pid] = self.calls.get(pid, 0) + 1
                if pid == "s1:p1" and self.calls[pid] == 1:
                    out.append(Outcome(job, error=RetryableError("flaky", delay=0)))
                elif pid == "s1:p2":
                    out.append(Outcome(job, error=PermanentError("no name")))
                else:
                    out.append(Outcome(job, {"ok": True}))
            return out
        finally:
            self.running -= 1


def ledger_for(redis_client: redis.Redis, settings: Settings) -> RedisLedger:
    return RedisLedger(redis_client, settings.jobs, keys=KEYS)


async def _run_until(dispatcher: Dispatcher, check: Callable[[], bool], timeout: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop, grace_s=5))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not check():
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=10)


def test_sync_tree_completes_with_retries_and_dead_letters(
    redis_client: redis.Redis, settings: Settings
) -> None:
    ledger = ledger_for(redis_client, settings)
    sync = ledger.enqueue(
        JobSpec(
            type=JobType.SYNC_SELLER,
            payload={"seller_id": "s1", "catalog_url": "http://shop.example/c/1"},
            seller_id="s1",
        )
    )
    checker = Checker()
    dispatcher = Dispatcher(
        ledger, [SyncSellerHandler(), FanOut(), checker], concurrency=5, lease_s=30
    )

    def finished() -> bool:
        job = ledger.get(sync.id)
        return job is not None and job.state is JobState.COMPLETED

    asyncio.run(_run_until(dispatcher, finished, timeout=30))
    job = ledger.get(sync.id)
    assert job is not None and job.state is JobState.COMPLETED
    assert job.children is not None
    assert job.children.total == 4  # one scrape, three checks
    assert job.children.dead == 1 and job.children.completed == 3
    assert checker.calls == {"s1:p0": 1, "s1:p1": 2, "s1:p2": 1}
    dead = ledger.dlq_list()
    assert len(dead) == 1 and "no name" in str(dead[0].last_error)
    assert ledger.check_invariants() == []


def test_concurrency_is_bounded_per_type(redis_client: redis.Redis, settings: Settings) -> None:
    ledger = ledger_for(redis_client, settings)
    ledger.enqueue_many(
        [
            JobSpec(
                type=JobType.QUALITY_CONTROL,
                payload={**QC_PAYLOAD, "product_id": f"s1:q{i}"},
                seller_id="s1",
            )
            for i in range(12)
        ]
    )
    checker = Checker()
    dispatcher = Dispatcher(ledger, [checker], concurrency=2, lease_s=30)
    asyncio.run(_run_until(dispatcher, lambda: len(checker.calls) == 12, timeout=30))
    assert len(checker.calls) == 12
    assert 1 <= checker.max_running <= 2


class Hang:
    job_type = JobType.QUALITY_CONTROL
    batch_size = 1

    async def handle(self, jobs: Sequence[ClaimedJob]) -> list[Outcome]:
        await asyncio.sleep(3600)
        return []


def test_graceful_stop_hands_back_unfinished_jobs(
    redis_client: redis.Redis, settings: Settings
) -> None:
    ledger = ledger_for(redis_client, settings)
    job = ledger.enqueue(JobSpec(type=JobType.QUALITY_CONTROL, payload=QC_PAYLOAD, seller_id="s1"))
    dispatcher = Dispatcher(ledger, [Hang()], concurrency=1, lease_s=300)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop, grace_s=0.5))
        for _ in range(100):
            await asyncio.sleep(0.05)
            current = ledger.get(job.id)
            if current is not None and current.state is JobState.ACTIVE:
                break
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(scenario())
    after = ledger.get(job.id)
    assert after is not None
    # Released at once for another consumer (retry with no delay), not held for 300 s.
    assert after.state in (JobState.WAITING, JobState.DELAYED)
    assert after.last_error is not None and "worker stopped" in str(after.last_error)
