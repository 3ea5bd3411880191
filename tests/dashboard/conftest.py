"""The dashboard's world: the real API app over loopback HTTP (uvicorn in a thread) on the
session's ``redis-server`` (a database of its own), with an admin key, and helpers that
put the ledger in the states the dashboard shows: dead letters with a real traceback,
a worker's heartbeat, and a finished sync whose scrape skipped products.

No vector store or model is loaded (``tests.lightapi``): nothing here searches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pipeline.errors import PermanentError
from pipeline.ledger import JobSpec, RedisLedger
from pipeline.products import ProductStatus
from pipeline.records import JobType, ProductRecord, QCDecision, QCVerdict, SkippedProduct
from pipeline.settings import Settings
from pipeline.stages.base import scrape_key
from pipeline.syncs import start_sync
from serve.app import create_api
from serve.deps import ApiDeps
from tests.appserver import ThreadedUvicorn
from tests.lightapi import light_deps

ADMIN = "dashboard-admin-key-0123456789"
REDIS_DB = 11  # a database of its own; each test empties it
QC = JobType.QUALITY_CONTROL
INDEX = JobType.INDEX_PRODUCT


@dataclass
class Dash:
    base_url: str
    deps: ApiDeps

    @property
    def ledger(self) -> RedisLedger:
        return self.deps.ledger

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="package")
def dash_server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Dash]:
    url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    settings = Settings.defaults().with_overrides(
        core={"data_dir": tmp_path_factory.mktemp("dashboard-data")},
        redis={"url": url},
        siglip={"model": "tiny"},
        api={"admin_key": ADMIN, "rate_limit_per_minute": 1_000_000},
        ops={"sample_interval_s": 0.05},
    )
    deps = light_deps(settings, url)
    with ThreadedUvicorn(create_api(deps)) as server:  # its lifespan closes deps
        yield Dash(server.base_url, deps)


@pytest.fixture
def dash(dash_server: Dash) -> Dash:
    """The server, on an emptied database."""
    dash_server.deps.redis.flushdb()
    return dash_server


def _check_price(product_id: str) -> None:
    raise PermanentError(f"price missing for {product_id}")


def dead_letter(
    ledger: RedisLedger, seller: str, n: int, job_type: JobType = QC, consumer: str = "w1"
) -> str:
    """A job of ``seller`` that died of a PermanentError raised (so it has a traceback)
    by ``_check_price``; returns its id."""
    product = f"{seller}:p{n}"
    payload = {"product_id": product, "seller_id": seller, "content_hash": "ab" * 8}
    job = ledger.enqueue(
        JobSpec(job_type, payload, seller, idempotency_key=f"{job_type}:{product}")
    )
    [claimed] = ledger.claim(job_type, consumer, 1)
    assert claimed.job_id == job.id
    try:
        _check_price(product)
    except PermanentError as exc:
        ledger.fail(claimed, exc)
    return job.id


SKIPPED = (
    SkippedProduct(seller_id="", source_url="https://shop.example/p/9", reason="no price",
                   raw_name="Blue vase"),
    SkippedProduct(seller_id="", source_url="https://shop.example/p/10", reason="no price",
                   raw_name="Red vase"),
    SkippedProduct(seller_id="", source_url="https://shop.example/p/11",
                   reason="image answered 404", raw_name="Lamp"),
)  # fmt: skip


def finished_sync(deps: ApiDeps, seller: str) -> str:
    """A sync of ``seller`` taken through the ledger as the stages take it: the scrape
    found four products and skipped three; of the four, two are live, one rejected and
    one flagged. Returns the sync id."""
    ledger, client = deps.ledger, deps.redis
    url = "https://shop.example/catalog"
    sync_id = start_sync(ledger, client, seller, url).sync_id
    [sync] = ledger.claim(JobType.SYNC_SELLER, "w-sync", 1)
    scrape = JobSpec(
        JobType.SCRAPE_CATALOG,
        {"seller_id": seller, "catalog_url": url, "source": "auto"},
        seller,
        idempotency_key=scrape_key(sync_id),
    )
    ledger.add_children(sync_id, [scrape])
    ledger.complete(sync)  # waits for its children
    [claimed] = ledger.claim(JobType.SCRAPE_CATALOG, "w-scrape", 1)
    records = [
        ProductRecord(
            product_id=ProductRecord.make_id(seller, f"r{i}"),
            seller_id=seller,
            retailer_id=f"r{i}",
            name=f"Mug {i}",
            price=None,
            image_urls=(),
            source_url=f"https://shop.example/p/{i}",
        )
        for i in range(4)
    ]
    deps.products.put_many(records)
    outcomes = (QCDecision.APPROVED, QCDecision.APPROVED, QCDecision.REJECTED, QCDecision.FLAGGED)
    for record, decision in zip(records, outcomes, strict=True):
        verdict = QCVerdict(decision=decision, model="test", policy_version="p1")
        deps.products.set_status(
            record.product_id, record.content_hash, ProductStatus(decision.value), verdict
        )
        if decision is QCDecision.APPROVED:
            deps.products.mark_indexed(record.product_id, record.content_hash)
    skipped = [s.model_copy(update={"seller_id": seller}).model_dump() for s in SKIPPED]
    result = {"found": 4, "changed": 4, "unchanged": 0, "removed": 0, "skipped": 3,
              "skipped_products": skipped}  # fmt: skip
    assert ledger.complete(claimed, result)
    return sync_id
