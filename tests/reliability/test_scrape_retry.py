"""A scrape retried after its follow-ups were queued (a worker killed between the
dispatcher's enqueue and its ack) strands no product: the versions it writes again keep
the progress their jobs made, and those jobs, not new ones, finish them.

The real scrape handler and the worker's in-process scraper read the sample site over
loopback into a real redis-server; the ledger calls are the dispatcher's own two steps,
with the crash between them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis

from pipeline.ledger import JobSpec, RedisLedger
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import JobType, QCDecision, QCVerdict
from pipeline.remote.scraper import ScraperWorker
from pipeline.sample_site import SampleSite
from pipeline.settings import JobSettings, Settings
from pipeline.stages.scrape import ScrapeHandler
from tests.keys import KEYS

JOE = "15551234567"  # 6 goods
APPROVED = QCVerdict(decision=QCDecision.APPROVED, model="test", policy_version="p1")


def test_a_retried_scrape_leaves_every_product_to_the_jobs_already_queued(
    redis_client: redis.Redis, settings: Settings
) -> None:
    products = RedisProductStore(redis_client, KEYS)
    ledger = RedisLedger(redis_client, JobSettings(), keys=KEYS)

    async def main(url: str) -> dict[str, Any]:
        scraper = ScraperWorker(settings.with_overrides(catalog={"verify_images": False}))
        try:
            handler = ScrapeHandler(scraper, products, None, None)  # type: ignore[arg-type]
            ledger.enqueue(JobSpec(JobType.SCRAPE_CATALOG,
                                   {"seller_id": "joe", "catalog_url": url, "source": "auto"},
                                   "joe"))  # fmt: skip
            jobs = ledger.claim(JobType.SCRAPE_CATALOG, "w", 1)
            (first,) = await handler.handle(jobs)
            queued = ledger.enqueue_many(first.follow_up)  # then the worker dies: no ack
            # The embed and QC jobs run meanwhile: the products are approved, not indexed.
            ids = {spec.payload["product"]["product_id"]: spec.payload["product"]["content_hash"]
                   for spec in first.follow_up}  # fmt: skip
            for pid, content_hash in ids.items():
                assert products.set_status(pid, content_hash, ProductStatus.APPROVED, APPROVED)
            (again,) = await handler.handle(jobs)  # the scrape's next attempt
            assert again.error is None and again.result is not None
            requeued = ledger.enqueue_many(again.follow_up)
            return {"ids": ids, "queued": queued, "requeued": requeued}
        finally:
            await scraper.aclose()

    with SampleSite(host="127.0.0.1", port=0) as site:
        run = asyncio.run(main(f"{site.base_url}/shop/{JOE}"))
    assert len(run["queued"]) == 6
    # The same jobs (their keys are held), so only the index jobs already queued remain.
    assert [j.id for j in run["requeued"]] == [j.id for j in run["queued"]]
    for pid, content_hash in run["ids"].items():
        assert products.mark_indexed(pid, content_hash)
    stored = products.get_many(sorted(run["ids"]))
    assert all(s.live and s.status is ProductStatus.APPROVED for s in stored.values()), {
        pid: s.status for pid, s in stored.items()
    }
