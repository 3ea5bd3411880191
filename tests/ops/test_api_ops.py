"""GET /metrics, search timings and GET /v1/ops/timeseries on the real API app."""

from __future__ import annotations

import time

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from pipeline.errors import PermanentError
from pipeline.ledger import JobSpec
from pipeline.ops.timeseries import SearchTimings
from pipeline.records import JobType
from tests.keys import KEYS
from tests.ops.conftest import OpsApi, admin

QC = JobType.QUALITY_CONTROL


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def qc_spec(i: int, seller: str = "s1") -> JobSpec:
    payload = {"product_id": f"{seller}:p{i}", "seller_id": seller, "content_hash": "ab" * 8}
    return JobSpec(QC, payload, seller, idempotency_key=f"qc:{seller}:{i}")


@pytest.fixture
def clean(ops_api: OpsApi) -> OpsApi:
    ops_api.deps.redis.flushall()
    return ops_api


def test_metrics_needs_the_admin_key(clean: OpsApi) -> None:
    assert clean.call("GET", "/metrics").status_code == 401


def test_metrics_reads_the_ledger(clean: OpsApi) -> None:
    ledger = clean.deps.ledger
    ledger.enqueue_many([qc_spec(i) for i in range(4)])
    a, b = ledger.claim(QC, "w1", 2)
    ledger.complete(a)
    ledger.fail(b, PermanentError("no name"))
    sync = ledger.enqueue(
        JobSpec(
            JobType.SYNC_SELLER,
            {"seller_id": "s9", "catalog_url": "http://127.0.0.1/c/9", "source": "auto"},
            "s9",
        )
    )
    resp = clean.call("GET", "/metrics", headers=admin())
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    got = samples(resp.text)
    qc = QC.value
    assert got[("catalog_sync_redis_up", ())] == 1
    assert got[("catalog_sync_queue_jobs", (("state", "waiting"), ("type", qc)))] == 2
    assert got[("catalog_sync_queue_jobs", (("state", "completed"), ("type", qc)))] == 1
    assert got[("catalog_sync_queue_jobs", (("state", "dead"), ("type", qc)))] == 1
    assert got[("catalog_sync_job_failure_ratio", (("type", qc),))] == 0.5
    assert got[("catalog_sync_jobs_finished_window", (("type", qc),))] == 2
    assert got[("catalog_sync_jobs_created_total", (("type", qc),))] == 4
    assert got[("catalog_sync_oldest_waiting_age_seconds", (("type", qc),))] >= 0
    assert got[("catalog_sync_worker_heartbeat_age_seconds", (("type", qc),))] < 60
    key = ("catalog_sync_seller_sync_progress_percent", (("seller", "s9"), ("state", "waiting")))
    assert got[key] == 0
    assert sync.id


def test_search_latency_and_cache_hits(clean: OpsApi) -> None:
    before = samples(clean.call("GET", "/metrics", headers=admin()).text)
    for _ in range(2):  # the second answer comes from the cache
        assert clean.call("GET", "/v1/search", params={"q": "red mug"}).status_code == 200
    assert clean.call("GET", "/v1/search", params={"q": ""}).status_code == 422  # not timed
    got = samples(clean.call("GET", "/metrics", headers=admin()).text)

    def delta(name: str, labels: tuple[tuple[str, str], ...]) -> float:
        return got.get((name, labels), 0) - before.get((name, labels), 0)

    text = (("kind", "text"),)
    assert delta("catalog_sync_search_latency_seconds_count", text) == 2
    assert delta("catalog_sync_search_requests_total", (("cache", "hit"), ("kind", "text"))) == 1
    assert delta("catalog_sync_search_requests_total", (("cache", "miss"), ("kind", "text"))) == 1
    # Every replica's timings land in Redis for the dashboard.
    summary = SearchTimings(KEYS).summary(clean.deps.redis, time.time())
    assert summary["count"] == 2 and summary["hit_rate"] == 0.5
    assert 0 < summary["p50_ms"] <= summary["p95_ms"]


def test_timeseries_grows_and_carries_the_board(clean: OpsApi) -> None:
    assert clean.call("GET", "/v1/ops/timeseries").status_code == 401
    ledger = clean.deps.ledger
    ledger.enqueue_many([qc_spec(i) for i in range(3)])
    first = clean.call("GET", "/v1/ops/timeseries", headers=admin()).json()
    time.sleep(0.06)  # the sample interval is 50 ms in these tests
    (job,) = ledger.claim(QC, "w1", 1)
    ledger.fail(job, PermanentError("price missing"))
    data = clean.call("GET", "/v1/ops/timeseries", headers=admin()).json()
    assert len(data["samples"]) == len(first["samples"]) + 1
    old, new = data["samples"][-2:]
    assert old["types"][QC.value]["waiting"] == 3
    assert new["types"][QC.value]["waiting"] == 2 and new["types"][QC.value]["dead"] == 1
    assert data["dead_letters"][0]["error"] == "price missing"
    assert data["dead_letters"][0]["type"] == QC.value
    assert {a["rule"] for a in data["alerts"]} <= {"WorkerHeartbeatMissing", "JobFailureRateHigh"}


def test_timeseries_bounds(clean: OpsApi) -> None:
    assert clean.call("GET", "/v1/ops/timeseries?limit=0", headers=admin()).status_code == 422
    assert clean.call("GET", "/v1/ops/timeseries?limit=99999", headers=admin()).status_code == 422


def test_redis_down_is_a_metric_not_a_crash(clean: OpsApi) -> None:
    from pipeline.ops.metrics import LedgerCollector

    dead: redis.Redis = redis.Redis(port=1, socket_connect_timeout=0.5)
    families = list(LedgerCollector(clean.deps.ledger, dead).collect())
    assert [(f.name, f.samples[0].value) for f in families] == [("catalog_sync_redis_up", 0)]


def test_sync_progress_per_seller(clean: OpsApi) -> None:
    """A sync waiting for its children: 3 of 4 ended (2 done, 1 dead) -> 75 %."""
    ledger = clean.deps.ledger
    payload = {"seller_id": "s5", "catalog_url": "http://127.0.0.1/c/5", "source": "auto"}
    ledger.enqueue(JobSpec(JobType.SYNC_SELLER, payload, "s5"))
    (sync,) = ledger.claim(JobType.SYNC_SELLER, "w1", 1)
    ledger.add_children(sync.job_id, [qc_spec(i, "s5") for i in range(4)])
    ledger.complete(sync)  # its own work is done; it awaits its children
    kids = ledger.claim(QC, "w1", 3)
    ledger.complete_many([(k, None) for k in kids[:2]])
    ledger.fail(kids[2], PermanentError("bad"))
    got = samples(clean.call("GET", "/metrics", headers=admin()).text)
    key = ("catalog_sync_seller_sync_progress_percent", (("seller", "s5"), ("state", "active")))
    assert got[key] == 75.0
    (row,) = clean.call("GET", "/v1/ops/timeseries", headers=admin()).json()["syncs"]
    assert row["seller_id"] == "s5" and row["state"] == "active"
    assert (row["progress"], row["total"], row["completed"], row["failed"]) == (75.0, 4, 2, 1)
    # The last child ends: the sync completes and still shows (ended in the last 10 min).
    (last,) = ledger.claim(QC, "w1", 1)
    ledger.complete(last)
    (row,) = clean.call("GET", "/v1/ops/timeseries", headers=admin()).json()["syncs"]
    # One child died: the dashboard says so rather than a plain "completed".
    assert (row["state"], row["progress"]) == ("completed_with_errors", 100.0)
    assert row["failed_jobs"] == {"quality-control": 1}
    got = samples(clean.call("GET", "/metrics", headers=admin()).text)
    assert not any(name == key[0] and ("seller", "s5") in labels for name, labels in got)
