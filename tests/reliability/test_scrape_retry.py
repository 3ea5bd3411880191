"""A scrape retried after its follow-ups were queued (a worker killed between the
dispatcher's enqueue and its ack) strands no product: the versions it writes again keep
the progress their jobs made, and those jobs, not new ones, finish them.

The real scrape handler reads the sample site over loopback into a real redis-server;
the ledger calls are the dispatcher's own two steps, with the crash between them.
"""

from __future__ import annotations

import asyncio

import redis

from pipeline.ledger import JobSpec, RedisLedger
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import JobType, QCDecision, QCVerdict
from pipeline.sample_site import SampleSite
from pipeline.settings import JobSettings, Settings
from pipeline.stages.scrape import ScrapeHandler
from tests.keys import KEYS
from tests.scraper import LocalScraper

JOE = "15551234567"  # 6 goods


def test_a_retried_scrape_leaves_every_product_to_the_jobs_already_queued(
    redis_client: redis.Redis, settings: Settings
) -> None:
    products = RedisProductStore(redis_client, KEYS)
    ledger = RedisLedger(redis_client, JobSettings(), keys=KEYS)
    catalog = settings.with_overrides(catalog={"verify_images": False}).catalog
    handler = ScrapeHandler(LocalScraper(catalog), products, None, None)  # type: ignore[arg-type]
    with SampleSite(host="127.0.0.1", port=0) as site:
        payload = {"seller_id": "joe", "catalog_url": f"{site.base_url}/shop/{JOE}",
                   "source": "auto"}  # fmt: skip
        ledger.enqueue(JobSpec(JobType.SCRAPE_CATALOG, payload, "joe"))
        jobs = ledger.claim(JobType.SCRAPE_CATALOG, "w", 1)
        (first,) = asyncio.run(handler.handle(jobs))
        queued = ledger.enqueue_many(first.follow_up)  # then the worker dies: no ack
        assert len(queued) == 6

        # The embed and QC jobs run meanwhile; the products are approved, not yet indexed.
        approved = QCVerdict(decision=QCDecision.APPROVED, model="test", policy_version="p1")
        ids = {spec.payload["product"]["product_id"]: spec.payload["product"]["content_hash"]
               for spec in first.follow_up}  # fmt: skip
        for pid, content_hash in ids.items():
            assert products.set_status(pid, content_hash, ProductStatus.APPROVED, approved)

        (again,) = asyncio.run(handler.handle(jobs))  # the scrape's next attempt
        assert again.error is None and again.result is not None
        requeued = ledger.enqueue_many(again.follow_up)
    # The same jobs (their keys are held), so only the index jobs already queued remain.
    assert [j.id for j in requeued] == [j.id for j in queued]
    for pid, content_hash in ids.items():
        assert products.mark_indexed(pid, content_hash)
    stored = products.get_many(sorted(ids))
    assert all(s.live and s.status is ProductStatus.APPROVED for s in stored.values()), {
        pid: s.status for pid, s in stored.items()
    }
