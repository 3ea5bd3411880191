"""kill -9 of a worker process while it holds scrape, embed and QC jobs; new workers finish.

Each worker is ``catalog-sync worker`` in its own process, joined to the test's Ray
cluster. When the ledger shows jobs of a stage active, the process holding them is killed
with SIGKILL (no chance to hand anything back); its leases run out and a fresh worker
reclaims the jobs. The sync must complete with every product live exactly once.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from pipeline.ledger import RedisLedger
from pipeline.local.milvus import local_milvus
from pipeline.records import JobType
from pipeline.sample_site.server import SampleSite
from tests.keys import KEYS
from tests.reliability.harness import (
    BULK,
    WorkerProcess,
    all_events,
    assert_sound,
    begin_sync,
    crash_settings,
    record_outcome,
    settings_env,
    valid_ids,
    wait_for,
    wait_sync,
)

pytestmark = pytest.mark.slow


def test_kill_9_in_each_stage_loses_and_repeats_nothing(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis, site: SampleSite, ray_address: str
) -> None:
    settings = crash_settings(tmp_path / "data", redis_url, site)
    ledger = RedisLedger(redis_client, settings.jobs, keys=KEYS)
    env = settings_env(settings, ray_address)
    workers: list[WorkerProcess] = []
    kills: dict[str, float] = {}
    try:
        sync_id = begin_sync(ledger, redis_client, site, BULK)
        for stage in (JobType.SCRAPE_CATALOG, JobType.GENERATE_EMBEDDING, JobType.QUALITY_CONTROL):
            worker = WorkerProcess(env, tmp_path / f"worker-{len(workers)}.log").start()
            workers.append(worker)
            key = ledger.keys.active(stage.value)
            try:
                wait_for(lambda k=key: redis_client.zcard(k) > 0, 180, f"{stage} jobs active", 0.02)
            except AssertionError:
                raise AssertionError(worker.log_tail()) from None
            held = redis_client.zcard(key)
            worker.kill9()
            kills[stage.value] = time.monotonic()
            assert held > 0
        finisher = WorkerProcess(env, tmp_path / "worker-final.log").start()
        workers.append(finisher)
        view = wait_sync(ledger, redis_client, sync_id, timeout=240)
        assert view["state"] == "completed", view
        assert view["products"]["failed"] == 0
        for stage in ("generate-embedding", "quality-control"):
            counts = view["stages"][stage]
            assert counts["dead"] == 0 and counts["completed"] == counts["total"], view["stages"]
        # The killed attempts are on record as lease expiries, not lost.
        recovered = time.monotonic() - kills[JobType.QUALITY_CONTROL.value]
        events = all_events(ledger)
        expired = [e for e in events if e.note == "lease-expired"]
        assert {e.type for e in expired} >= set(kills), "a killed worker's jobs were not reclaimed"
        ids = valid_ids(site, BULK)
        assert_sound(settings, ledger, redis_client, ids)
        completions = [e for e in events if e.to_state == "completed" and e.type != "sync-seller"]
        assert len({(e.job_id, e.type) for e in completions}) == len(completions)
        record_outcome(
            "worker kill -9 (scrape, embed, QC)",
            products=len(ids),
            reclaimed=len(expired),
            lost=0,
            duplicated=0,
            seconds_to_complete_after_last_kill=round(recovered, 1),
        )
    finally:
        for worker in workers:
            worker.stop()
        # The first worker started Milvus Lite and was killed: nobody owns it now.
        local_milvus(settings.data_dir).stop_recorded()
