"""Worker telemetry: one structured log line per job transition, the worker's Prometheus
metrics (jobs, durations, embed batches, QC cache) and its HTTP endpoint."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from decimal import Decimal

import httpx
import pytest
import redis
from prometheus_client import REGISTRY

from pipeline.cli.common import _JsonFormatter
from pipeline.dispatcher import Dispatcher
from pipeline.errors import PermanentError
from pipeline.ledger import ClaimedJob, JobSpec, RedisLedger
from pipeline.local.services import free_port
from pipeline.ops.metrics import serve_worker_metrics, worker_metrics
from pipeline.qc.base import QCInput
from pipeline.qc.factory import build_quality_checker
from pipeline.records import JobType, ProductRecord
from pipeline.settings import Settings
from pipeline.stages.base import Outcome
from tests.keys import KEYS

EMBED = JobType.GENERATE_EMBEDDING
QC = JobType.QUALITY_CONTROL


def product(i: int) -> ProductRecord:
    return ProductRecord(
        product_id=ProductRecord.make_id("s1", f"r{i}"),
        seller_id="s1",
        retailer_id=f"r{i}",
        name=f"Blue glass vase {i}",
        price=Decimal("25.00"),
        currency="USD",
        image_urls=(f"http://shop.example/{i}.jpg",),
        source_url="http://shop.example/c/s1",
    )


class Embedder:
    """generate-embedding in batches of 4; every job succeeds."""

    job_type = EMBED
    batch_size = 4

    async def handle(self, jobs: Sequence[ClaimedJob]) -> list[Outcome]:
        await asyncio.sleep(0.02)
        return [Outcome(job, {"ok": True}) for job in jobs]


class Checker:
    """quality-control: product 0 is invalid data (dead at once), the rest pass."""

    job_type = QC
    batch_size = 1

    async def handle(self, jobs: Sequence[ClaimedJob]) -> list[Outcome]:
        out = []
        for job in jobs:
            if job.payload["product_id"].endswith("p0"):
                try:
                    raise PermanentError("price missing")
                except PermanentError as exc:  # raised, so it carries a traceback
                    out.append(Outcome(job, error=exc))
            else:
                out.append(Outcome(job, {"ok": True}))
        return out


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def run_until_idle(dispatcher: Dispatcher, ledger: RedisLedger, timeout: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop, grace_s=5))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = ledger.stats(window_minutes=1).types
        if all(t.waiting + t.active + t.delayed == 0 for t in stats.values()):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=10)


def test_transitions_logged_and_counted(
    redis_client: redis.Redis, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    worker_metrics()  # registered before the "before" reading
    before = {
        "embed_done": value("catalog_sync_jobs_completed_total", type=EMBED.value),
        "qc_done": value("catalog_sync_jobs_completed_total", type=QC.value),
        "qc_dead": value("catalog_sync_jobs_failed_total", type=QC.value, to="dead"),
        "batches": value("catalog_sync_embed_batch_size_count"),
        "images": value("catalog_sync_embed_images_total"),
        "qc_hist": value(
            "catalog_sync_job_duration_seconds_count", type=QC.value, outcome="failed"
        ),
    }
    ledger = RedisLedger(redis_client, settings.jobs, keys=KEYS)
    ledger.enqueue_many(
        [JobSpec(EMBED, {"product": product(i).model_dump(mode="json")}, "s1") for i in range(8)]
    )
    ledger.enqueue_many(
        [
            JobSpec(
                QC,
                {"product_id": f"s1:p{i}", "seller_id": "s1", "content_hash": "ab" * 8},
                "s1",
            )
            for i in range(3)
        ]
    )
    dispatcher = Dispatcher(ledger, [Embedder(), Checker()], concurrency=2, lease_s=30)
    with caplog.at_level(logging.INFO, logger="pipeline.dispatcher"):
        asyncio.run(run_until_idle(dispatcher, ledger, timeout=30))

    assert value("catalog_sync_jobs_completed_total", type=EMBED.value) - before["embed_done"] == 8
    assert value("catalog_sync_jobs_completed_total", type=QC.value) - before["qc_done"] == 2
    dead = value("catalog_sync_jobs_failed_total", type=QC.value, to="dead")
    assert dead - before["qc_dead"] == 1
    assert value("catalog_sync_embed_images_total") - before["images"] == 8
    assert 2 <= value("catalog_sync_embed_batch_size_count") - before["batches"] <= 8
    assert value("catalog_sync_embed_images_per_second") > 0
    hist = value("catalog_sync_job_duration_seconds_count", type=QC.value, outcome="failed")
    assert hist - before["qc_hist"] == 1

    records = [r for r in caplog.records if hasattr(r, "fields")]
    events = [(r.fields["event"], r.fields["job_type"]) for r in records]  # type: ignore[attr-defined]
    assert events.count(("claimed", EMBED.value)) == 8
    assert events.count(("completed", EMBED.value)) == 8
    assert events.count(("claimed", QC.value)) == 3
    assert events.count(("completed", QC.value)) == 2
    assert events.count(("failed", QC.value)) == 1
    failed = next(r for r in records if r.fields["event"] == "failed")  # type: ignore[attr-defined]
    assert failed.exc_info is not None  # the stack trace travels with the line
    line = json.loads(_JsonFormatter().format(failed))
    for field in ("job_id", "job_type", "seller_id", "attempt", "duration_s", "to", "error"):
        assert field in line, field
    assert line["seller_id"] == "s1" and line["attempt"] == 1 and line["to"] == "dead"
    assert "PermanentError: price missing" in line["error"]
    assert "Traceback" in line["exc"]


def test_qc_cache_hits_counted(redis_client: redis.Redis, settings: Settings) -> None:
    metrics = worker_metrics()
    checker = build_quality_checker(settings, redis_client)
    metrics.watch_qc_cache(checker)
    calls = value("catalog_sync_qc_calls_total")
    hits = value("catalog_sync_qc_cache_hits_total")
    item = QCInput(product=product(1), image=None, image_vector=None, text_vector=None)
    asyncio.run(checker.check(item))
    asyncio.run(checker.check(item))
    assert value("catalog_sync_qc_calls_total") - calls == 1
    assert value("catalog_sync_qc_cache_hits_total") - hits == 1


def test_worker_metrics_endpoint() -> None:
    port = free_port()
    serve_worker_metrics("127.0.0.1", port)
    serve_worker_metrics("127.0.0.1", port)  # once per port: a second call is a no-op
    worker_metrics()
    resp = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert resp.status_code == 200
    assert "catalog_sync_embed_images_total" in resp.text
