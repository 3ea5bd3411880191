"""Services dying under a running sync: Redis (kill -9, append-only), Milvus (stopped for
a while, and for longer than the retries), the SigLIP embedder actor (kill -9).

One worker (on the session's Ray) serves the whole module against a Redis and a Milvus
Lite server this module owns, so they can be killed without touching anyone else's.
Each scenario syncs its own seller and ends with every product live exactly once.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from pipeline.errors import BackendUnavailable
from pipeline.ledger import RedisLedger
from pipeline.records import JobType
from pipeline.sample_site.catalog import SampleCatalog
from pipeline.sample_site.server import SampleSite
from pipeline.settings import Settings
from pipeline.vectors.milvus import MilvusVectorStore
from pipeline.worker import BackgroundWorker
from tests.reliability.harness import (
    all_events,
    assert_sound,
    begin_sync,
    crash_settings,
    record_outcome,
    valid_ids,
    wait_for,
    wait_sync,
)
from tests.reliability.services import OwnedService, generated_seller

pytestmark = pytest.mark.slow

SELLERS = ["20000000001", "20000000002", "20000000003", "20000000004"]
PER_SELLER = 60


@dataclass
class Rig:
    site: SampleSite
    settings: Settings
    redis: OwnedService
    milvus: OwnedService
    client: redis.Redis
    ledger: RedisLedger
    worker: BackgroundWorker

    def ids(self, upto: int) -> set[str]:
        """Valid products of the first ``upto`` sellers (those synced so far)."""
        return {pid for seller in SELLERS[:upto] for pid in valid_ids(self.site, seller)}


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, ray_session: object) -> Iterator[Rig]:
    base = tmp_path_factory.mktemp("services")
    catalog = SampleCatalog([generated_seller(phone, PER_SELLER) for phone in SELLERS])
    with SampleSite(catalog=catalog) as site:
        redis_service = OwnedService("redis", base / "owned").start()
        milvus = OwnedService("milvus", base / "owned").start()
        url = f"redis://127.0.0.1:{redis_service.port}/0"
        settings = crash_settings(
            base / "data",
            url,
            site,
            milvus={"uri": f"http://127.0.0.1:{milvus.port}", "timeout": 5},
            jobs={"max_attempts": 5, "backoff_base": 1.5},
        )
        client: redis.Redis = redis.Redis.from_url(url)
        worker = BackgroundWorker(settings).start()
        try:
            yield Rig(
                site,
                settings,
                redis_service,
                milvus,
                client,
                RedisLedger(client, settings.jobs),
                worker,
            )
        finally:
            worker.stop()
            client.close()
            milvus.stop()
            redis_service.stop()


def _when_active(rig: Rig, job_type: JobType, timeout: float = 120) -> None:
    key = rig.ledger.keys.active(job_type.value)
    wait_for(lambda: rig.client.zcard(key) > 0, timeout, f"{job_type} jobs active", 0.02)


def test_redis_kill_9_mid_sync_and_restart_on_its_files(rig: Rig) -> None:
    sync_id = begin_sync(rig.ledger, rig.client, rig.site, SELLERS[0])
    _when_active(rig, JobType.GENERATE_EMBEDDING)
    rig.redis.kill(signal.SIGKILL)
    killed = time.monotonic()
    time.sleep(2)  # the worker's calls fail meanwhile; it must ride this out
    rig.redis.start()
    view = wait_sync(rig.ledger, rig.client, sync_id, timeout=180)
    assert view["state"] == "completed", view
    assert view["products"]["live"] == PER_SELLER, view["products"]
    assert_sound(rig.settings, rig.ledger, rig.client, rig.ids(1))
    record_outcome(
        "redis kill -9 mid-sync, restart on its AOF",
        products=PER_SELLER,
        lost=0,
        duplicated=0,
        seconds_from_kill_to_sync_complete=round(time.monotonic() - killed, 1),
    )


def test_milvus_down_for_a_while_jobs_retry_and_complete(rig: Rig) -> None:
    """The server hangs for 10 s (SIGSTOP: calls time out after 5 s), then answers again."""
    sync_id = begin_sync(rig.ledger, rig.client, rig.site, SELLERS[1])
    _when_active(rig, JobType.GENERATE_EMBEDDING)
    rig.milvus.pause()
    stopped = time.monotonic()
    time.sleep(10)  # within the retries (1.5, 3, 6, 12 s apart, each call up to 5 s)
    rig.milvus.resume()
    view = wait_sync(rig.ledger, rig.client, sync_id, timeout=180)
    assert view["state"] == "completed", view
    for stage in ("generate-embedding", "quality-control", "index-product"):
        assert view["stages"][stage]["dead"] == 0, view["stages"]
    retried = [e for e in all_events(rig.ledger) if e.to_state == "delayed"]
    assert retried, "no job saw the outage"
    assert_sound(rig.settings, rig.ledger, rig.client, rig.ids(2))
    record_outcome(
        "Milvus hung 10 s mid-sync (SIGSTOP)",
        products=PER_SELLER,
        retries=len(retried),
        lost=0,
        dead=0,
        seconds_from_stop_to_sync_complete=round(time.monotonic() - stopped, 1),
    )


def test_milvus_down_past_the_retries_dead_letters_then_replay(rig: Rig) -> None:
    """Past the retries the jobs are dead letters with the reason; replays after recovery
    finish them, and every product ends live: nothing the store acknowledged is lost
    across its stop (SIGTERM: it drains its calls and closes its files)."""
    seller = SELLERS[2]
    sync_id = begin_sync(rig.ledger, rig.client, rig.site, seller)
    _when_active(rig, JobType.GENERATE_EMBEDDING)
    rig.milvus.stop_cleanly()
    stopped = time.monotonic()
    view = wait_sync(rig.ledger, rig.client, sync_id, timeout=240)
    down_for = time.monotonic() - stopped
    dead = rig.ledger.dlq_list(seller_id=seller, limit=1000)
    assert dead, "nothing went past its retries"
    for job in dead:
        assert job.last_error and "ilvus" in str(job.last_error), job.last_error
        assert job.attempt == rig.settings.jobs.max_attempts
    assert view["products"]["live"] < PER_SELLER
    rig.milvus.start()
    wait_for(lambda: _vector_store_serves(rig), 180, "Milvus to serve queries again", 0.5)
    replayed = 0
    for _ in range(6):  # a replayed job may die again (a slow machine, a late retry)
        replayed += rig.ledger.replay_all(seller_id=seller)
        wait_for(lambda: _idle(rig), 180, "replayed jobs to finish", 0.5)
        if not rig.ledger.dlq_list(seller_id=seller):
            break
    left = rig.ledger.dlq_list(seller_id=seller, limit=1000)
    assert left == [], [(j.payload.get("product_id"), j.last_error) for j in left[:5]]
    assert_sound(rig.settings, rig.ledger, rig.client, rig.ids(3))
    record_outcome(
        "Milvus down past the retries, replay after recovery",
        products=PER_SELLER,
        dead_letters=len(dead),
        replayed=replayed,
        live_after_replay=PER_SELLER,
        lost=0,
        seconds_down=round(down_for, 1),
    )


def _vector_store_serves(rig: Rig) -> bool:
    """A real query answers (the gRPC port answers before the collection is loaded)."""
    try:
        store = MilvusVectorStore.from_settings(rig.settings)
    except BackendUnavailable:
        return False
    try:
        store.count()
        return True
    except BackendUnavailable:
        return False
    finally:
        store.close()


def _idle(rig: Rig) -> bool:
    return all(t.waiting + t.delayed + t.active == 0 for t in rig.ledger.stats().types.values())


def test_embedder_actor_kill_9_mid_batch_is_restarted(rig: Rig) -> None:
    pids_before = _embedder_pids()
    sync_id = begin_sync(rig.ledger, rig.client, rig.site, SELLERS[3])
    _when_active(rig, JobType.GENERATE_EMBEDDING)
    for pid in pids_before:
        os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    view = wait_sync(rig.ledger, rig.client, sync_id, timeout=180)
    assert view["state"] == "completed", view
    assert view["stages"]["generate-embedding"]["dead"] == 0, view["stages"]
    assert view["products"]["live"] == PER_SELLER
    after = _embedder_pids()
    assert after and not set(after) & set(pids_before), "the actor was not restarted"
    assert_sound(rig.settings, rig.ledger, rig.client, rig.ids(4))
    record_outcome(
        "SigLIP actor kill -9 mid-batch (Ray restarts it)",
        products=PER_SELLER,
        lost=0,
        dead=0,
        seconds_from_kill_to_sync_complete=round(time.monotonic() - killed, 1),
    )


def _embedder_pids() -> list[int]:
    """Process ids of live SigLIP actors on the session's cluster (from the GCS: the
    state API would need the dashboard, which the test cluster does not run)."""
    from ray._private import state

    return [
        int(info["Pid"])
        for info in state.actors().values()
        if info.get("ActorClassName") == "SiglipEmbedder" and info.get("State") == "ALIVE"
    ]
