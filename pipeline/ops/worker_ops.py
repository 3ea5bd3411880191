"""What a worker runs for operations beside its dispatcher.

- its Prometheus endpoint, when ``OPS_METRICS_PORT`` is set;
- the dashboard's ledger sampler (one sample per interval across all processes);
- the queue-depth autoscaler actor, when ``OPS_AUTOSCALE=true``: one per cluster, named;
  every worker with the setting re-ensures it each minute, so it comes back on another
  worker if the one that owned it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import redis

from pipeline.ledger import RedisLedger
from pipeline.ops.metrics import serve_worker_metrics, worker_metrics
from pipeline.ops.timeseries import LedgerSampler
from pipeline.settings import Settings

logger = logging.getLogger(__name__)

ENSURE_AUTOSCALER_EVERY_S = 60.0


def _existing_autoscaler() -> Any:
    import ray

    from pipeline.ops.autoscaler import ACTOR_NAME

    try:
        return ray.get_actor(ACTOR_NAME, namespace="catalog-sync")
    except ValueError:
        return None


class _OpsLoop:
    def __init__(self, settings: Settings, sampler: LedgerSampler) -> None:
        self._settings = settings
        self._sampler = sampler
        self.created_autoscaler: Any = None
        self._last_ensure = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        interval = self._settings.ops.sample_interval_s
        while not stop.is_set():
            try:
                await asyncio.to_thread(self._sampler.sample_if_due)
            except (redis.RedisError, OSError) as exc:
                logger.warning("ops sample failed: %s", exc)
            if self._settings.ops.autoscale:
                await asyncio.to_thread(self._ensure_autoscaler)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    def _ensure_autoscaler(self) -> None:
        if time.monotonic() - self._last_ensure < ENSURE_AUTOSCALER_EVERY_S:
            return
        self._last_ensure = time.monotonic()
        from pipeline.ops.autoscaler import start_autoscaler

        try:
            if _existing_autoscaler() is None:
                self.created_autoscaler = start_autoscaler(self._settings)
                logger.info("queue-depth autoscaler started")
        except Exception:  # the GCS may be restarting; the next round tries again
            logger.warning("could not ensure the autoscaler actor", exc_info=True)

    def stop_autoscaler(self) -> None:
        """Stop the autoscaler this worker created (its resource request is cleared)."""
        actor = self.created_autoscaler
        if actor is None:
            return
        import ray

        with contextlib.suppress(Exception):
            ray.get(actor.stop.remote(), timeout=30)
        with contextlib.suppress(Exception):
            ray.kill(actor)


@contextlib.asynccontextmanager
async def worker_ops(
    settings: Settings, ledger: RedisLedger, client: redis.Redis
) -> AsyncIterator[_OpsLoop]:
    """Start the worker's operations parts; stop what was started here on exit. Raises
    OSError when ``OPS_METRICS_PORT`` is taken."""
    ops = settings.ops
    if ops.metrics_port:
        worker_metrics()  # registered now, so a scrape before the first job sees zeros
        serve_worker_metrics(ops.metrics_host, ops.metrics_port)
    sampler = LedgerSampler(ledger, client, interval_s=ops.sample_interval_s, keep=ops.samples_keep)
    loop = _OpsLoop(settings, sampler)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop), name="ops")
    try:
        yield loop
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(loop.stop_autoscaler)
