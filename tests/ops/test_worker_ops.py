"""What a worker starts beside its dispatcher: samples, its metrics port, the autoscaler."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import redis

from pipeline.ledger import RedisLedger
from pipeline.local.services import free_port
from pipeline.ops.autoscaler import ACTOR_NAME
from pipeline.ops.timeseries import LedgerSampler
from pipeline.ops.worker_ops import worker_ops
from pipeline.settings import Settings
from tests.keys import KEYS


@pytest.mark.slow
def test_worker_ops_lifecycle(
    ray_session: Any, settings: Settings, redis_client: redis.Redis
) -> None:
    ray = ray_session
    port = free_port()
    ops = settings.with_overrides(
        ops={
            "autoscale": True,
            "autoscale_interval_s": 0.2,
            "sample_interval_s": 0.05,
            "metrics_port": port,
            "metrics_host": "127.0.0.1",
        }
    )
    ledger = RedisLedger(redis_client, ops.jobs, keys=KEYS)

    async def scenario() -> tuple[int, str, bool]:
        async with worker_ops(ops, ledger, redis_client) as loop:
            deadline = time.monotonic() + 60
            while loop.created_autoscaler is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)
            async with httpx.AsyncClient(timeout=10) as client:
                body = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
            running = ray.get_actor(ACTOR_NAME, namespace="catalog-sync") is not None
        return len(LedgerSampler(ledger, redis_client).read()), body, running

    count, body, running = asyncio.run(scenario())
    assert count >= 2  # sampled every 50 ms while it ran
    assert "catalog_sync_embed_images_total" in body
    assert running
    # Stopped with the worker that created it (its resource request cleared first).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            ray.get_actor(ACTOR_NAME, namespace="catalog-sync")
        except ValueError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the autoscaler actor outlived the worker that started it")
