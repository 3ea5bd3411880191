"""The production vector path under crashes: a real Milvus standalone server (2.3, the
split layout) killed with -9 mid-embedding and restarted on its files, and stopped past
the jobs' retries then replayed.

One worker (on the session's Ray) serves the module against a Redis and a Milvus server
the module owns. Each scenario syncs its own seller and ends with every product live
exactly once, its vector row present and approved (``assert_sound``): a row the store
acknowledged and lost would leave its product without one.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from pipeline.records import JobType
from tests.reliability.harness import Rig, owned_rig, record_outcome

pytestmark = pytest.mark.slow

SELLERS = ["30000000001", "30000000002"]
PER_SELLER = 60


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, ray_session: object) -> Iterator[Rig]:
    # 2, 4, 8, 16 s apart: a kill -9 and restart (the new server waits out the dead one's
    # 10 s etcd sessions) fits within the retries.
    jobs = {"max_attempts": 5, "backoff_base": 2.0}
    base = tmp_path_factory.mktemp("milvus-server")
    with owned_rig(base, SELLERS, PER_SELLER, "milvus-standalone", jobs) as rig:
        yield rig


def test_milvus_server_kill_9_mid_embedding_and_restart_on_its_files(rig: Rig) -> None:
    sync_id = rig.begin_sync(SELLERS[0])
    rig.when_active(JobType.GENERATE_EMBEDDING)
    time.sleep(0.5)  # some rows acknowledged, others in flight
    rig.milvus.kill(signal.SIGKILL)
    killed = time.monotonic()
    rig.milvus.start()
    restarted = time.monotonic() - killed
    rig.sync_completes(sync_id, timeout=300)
    record_outcome(
        "Milvus server (2.3 standalone) kill -9 mid-embedding, restart on its files",
        products=PER_SELLER,
        lost=0,
        duplicated=0,
        seconds_to_restart=round(restarted, 1),
        seconds_from_kill_to_sync_complete=round(time.monotonic() - killed, 1),
    )


def test_milvus_server_down_past_the_retries_then_replay(rig: Rig) -> None:
    """Past the retries the jobs are dead letters naming Milvus; after the server is back
    (kill -9: no clean stop) the replays finish them and nothing acknowledged is lost."""
    figures = rig.milvus_down_past_the_retries(
        SELLERS[1], lambda: rig.milvus.kill(signal.SIGKILL), timeout=300
    )
    record_outcome(
        "Milvus server (2.3 standalone) down past the retries, replay after recovery",
        **figures,
    )
