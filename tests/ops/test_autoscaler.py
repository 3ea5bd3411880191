"""Queue-depth autoscaling: the pure decision, the polling loop, the actor on real Ray."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from pipeline.ledger import JobSpec, RedisLedger
from pipeline.ops.autoscaler import (
    AutoscalerLoop,
    ScalePolicy,
    ScaleState,
    bundles,
    decide,
    start_autoscaler,
    targets,
)
from pipeline.records import JobType
from pipeline.settings import Settings
from tests.keys import KEYS

EMBED = JobType.GENERATE_EMBEDDING.value
SCRAPE = JobType.SCRAPE_CATALOG.value
QC = JobType.QUALITY_CONTROL.value
POLICY = ScalePolicy(max_gpu=4, max_cpu=10, jobs_per_bundle={EMBED: 100, SCRAPE: 2, QC: 50})


def test_targets_per_backlog_and_bounds() -> None:
    assert targets({}, POLICY) == (0, 0)
    assert targets({EMBED: 1}, POLICY) == (1, 0)
    assert targets({EMBED: 250, SCRAPE: 3, QC: 51}, POLICY) == (3, 4)
    assert targets({EMBED: 10_000, SCRAPE: 1_000}, POLICY) == (4, 10)  # clamped to max
    floor = ScalePolicy(min_gpu=1, min_cpu=2, max_gpu=4, max_cpu=10)
    assert targets({}, floor) == (1, 2)  # never below min


def test_scale_up_at_once_down_after_quiet_period() -> None:
    state = decide({EMBED: 300}, ScaleState(), POLICY, now=0.0)
    assert (state.gpu, state.cpu) == (3, 0)
    # The backlog drains: nothing changes until down_after_s (300 s) of low targets.
    state = decide({EMBED: 0}, state, POLICY, now=10.0)
    assert state.gpu == 3
    state = decide({EMBED: 150}, state, POLICY, now=200.0)  # a smaller refill: still 3
    assert state.gpu == 3
    state = decide({EMBED: 0}, state, POLICY, now=309.0)
    assert state.gpu == 3
    # After the quiet period: down to the highest target seen during it (2), not to 0.
    state = decide({EMBED: 0}, state, POLICY, now=311.0)
    assert state.gpu == 2
    state = decide({EMBED: 0}, state, POLICY, now=312.0)
    state = decide({EMBED: 0}, state, POLICY, now=700.0)
    assert state.gpu == 0


def test_refill_resets_the_quiet_period() -> None:
    state = decide({SCRAPE: 8}, ScaleState(), POLICY, now=0.0)
    assert state.cpu == 4
    state = decide({SCRAPE: 0}, state, POLICY, now=100.0)
    state = decide({SCRAPE: 8}, state, POLICY, now=350.0)  # back up before the wait ends
    state = decide({SCRAPE: 0}, state, POLICY, now=401.0)
    assert state.cpu == 4  # the quiet period started again at 401
    assert decide({SCRAPE: 0}, state, POLICY, now=702.0).cpu == 0


def test_bundles_shape() -> None:
    shaped = bundles(ScaleState(gpu=2, cpu=3), ScalePolicy(cpus_per_gpu_bundle=4))
    assert shaped == [{"GPU": 1.0, "CPU": 4.0}] * 2 + [{"CPU": 1.0}] * 3
    assert bundles(ScaleState(), POLICY) == []


def test_policy_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError, match="min_gpu <= max_gpu"):
        ScalePolicy(min_gpu=3, max_gpu=2)
    with pytest.raises(ValueError, match="jobs per bundle"):
        ScalePolicy(jobs_per_bundle={EMBED: 0})


def test_loop_sends_only_changed_requests(settings: Settings) -> None:
    sent: list[list[dict[str, float]]] = []

    def request(*, bundles: list[dict[str, float]]) -> None:
        sent.append(bundles)

    ops = settings.with_overrides(ops={"embed_jobs_per_gpu": 10, "autoscale_down_after_s": 0})
    loop = AutoscalerLoop(ops, request=request)
    loop.tick({EMBED: 25}, now=1.0)
    loop.tick({EMBED: 21}, now=2.0)  # same target: no new request
    assert sent == [[{"GPU": 1.0, "CPU": 4.0}] * 3]
    loop.tick({}, now=3.0)  # starts the (zero-length) quiet period
    loop.tick({}, now=4.0)
    assert sent[-1] == []  # cleared, so Ray may scale down
    assert loop.ticks == 4


@pytest.mark.slow
def test_actor_follows_the_ledger(
    ray_session: Any, settings: Settings, redis_client: redis.Redis
) -> None:
    """The actor reads real ledger counts and calls Ray's request_resources (a local
    cluster accepts the request)."""
    ray = ray_session
    ops = settings.with_overrides(
        ops={"autoscale_interval_s": 0.2, "embed_jobs_per_gpu": 2, "scrape_jobs_per_cpu": 1}
    )
    ledger = RedisLedger(redis_client, ops.jobs, keys=KEYS)
    actor = start_autoscaler(ops)
    try:
        payload = {"seller_id": "s1", "catalog_url": "http://127.0.0.1/c/1", "source": "auto"}
        specs = [
            JobSpec(JobType.SCRAPE_CATALOG, payload, "s1", idempotency_key=f"k{i}")
            for i in range(3)
        ]
        ledger.enqueue_many(specs)
        deadline = time.monotonic() + 30
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = ray.get(actor.status.remote(), timeout=10)
            if status["requested"] == [{"CPU": 1.0}] * 3 or status["errors"]:
                break
            time.sleep(0.2)
        assert status["errors"] == 0, status
        assert status["cpu_bundles"] == 3, status
        assert status["requested"] == [{"CPU": 1.0}] * 3
        # The same named actor is returned to a second worker, not a second controller.
        again = start_autoscaler(ops)
        assert ray.get(again.status.remote(), timeout=10)["ticks"] >= status["ticks"]
    finally:
        ray.get(actor.stop.remote(), timeout=30)
        ray.kill(actor)
