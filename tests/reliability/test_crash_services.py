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

import pytest

from pipeline.records import JobType
from tests.reliability.harness import (
    Rig,
    all_events,
    owned_rig,
    record_outcome,
)

pytestmark = pytest.mark.slow

SELLERS = ["20000000001", "20000000002", "20000000003", "20000000004"]
PER_SELLER = 60


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, ray_session: object) -> Iterator[Rig]:
    jobs = {"max_attempts": 5, "backoff_base": 1.5}
    with owned_rig(tmp_path_factory.mktemp("services"), SELLERS, PER_SELLER, "milvus", jobs) as rig:
        yield rig


def test_redis_kill_9_mid_sync_and_restart_on_its_files(rig: Rig) -> None:
    sync_id = rig.begin_sync(SELLERS[0])
    rig.when_active(JobType.GENERATE_EMBEDDING)
    rig.redis.kill(signal.SIGKILL)
    killed = time.monotonic()
    time.sleep(2)  # the worker's calls fail meanwhile; it must ride this out
    rig.redis.start()
    rig.sync_completes(sync_id, timeout=180)
    record_outcome(
        "redis kill -9 mid-sync, restart on its AOF",
        products=PER_SELLER,
        lost=0,
        duplicated=0,
        seconds_from_kill_to_sync_complete=round(time.monotonic() - killed, 1),
    )


def test_milvus_down_for_a_while_jobs_retry_and_complete(rig: Rig) -> None:
    """The server hangs for 10 s (SIGSTOP: calls time out after 5 s), then answers again."""
    sync_id = rig.begin_sync(SELLERS[1])
    rig.when_active(JobType.GENERATE_EMBEDDING)
    rig.milvus.pause()
    stopped = time.monotonic()
    time.sleep(10)  # within the retries (1.5, 3, 6, 12 s apart, each call up to 5 s)
    rig.milvus.resume()
    view = rig.sync_completes(sync_id, timeout=180)
    for stage in ("generate-embedding", "quality-control", "index-product"):
        assert view["stages"][stage]["dead"] == 0, view["stages"]
    retried = [e for e in all_events(rig.ledger) if e.to_state == "delayed"]
    assert retried, "no job saw the outage"
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
    figures = rig.milvus_down_past_the_retries(SELLERS[2], rig.milvus.stop_cleanly, timeout=240)
    record_outcome("Milvus down past the retries, replay after recovery", **figures)


def test_embedder_actor_kill_9_mid_batch_is_restarted(rig: Rig) -> None:
    pids_before = _embedder_pids()
    sync_id = rig.begin_sync(SELLERS[3])
    rig.when_active(JobType.GENERATE_EMBEDDING)
    for pid in pids_before:
        os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    view = rig.sync_completes(sync_id, timeout=180)
    assert view["stages"]["generate-embedding"]["dead"] == 0, view["stages"]
    after = _embedder_pids()
    assert after and not set(after) & set(pids_before), "the actor was not restarted"
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
