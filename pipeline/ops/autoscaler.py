"""Autoscaling on queue depth: waiting jobs per type -> Ray resource requests.

Ray's autoscaler scales on resources that tasks and actors *ask for*; our backlog sits in
Redis, where Ray cannot see it. This controller reads the ledger's counts and asks for the
capacity the backlog needs through ``ray.autoscaler.sdk.request_resources``: embed backlog
becomes GPU bundles (one SigLIP replica each), scrape / QC / index backlog becomes CPU
bundles. ``decide`` is a pure function (tested without a cluster); ``QueueDepthAutoscaler``
is the Ray actor that polls and applies it.

Hysteresis: capacity goes up at once (a backlog is waiting), but comes down only after the
target has stayed below the current request for ``down_after_s``, and then only to the
highest target seen during that quiet period, so a queue that drains and refills every
minute does not make nodes come and go.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pipeline.records import JobType
from pipeline.settings import OpsSettings, Settings

logger = logging.getLogger(__name__)

CPU_TYPES = (
    JobType.SYNC_SELLER,
    JobType.SCRAPE_CATALOG,
    JobType.QUALITY_CONTROL,
    JobType.INDEX_PRODUCT,
)


@dataclass(frozen=True, slots=True)
class ScalePolicy:
    """Bounds and per-bundle capacities (how many waiting jobs one bundle absorbs)."""

    min_gpu: int = 0
    max_gpu: int = 8
    min_cpu: int = 0
    max_cpu: int = 64
    cpus_per_gpu_bundle: int = 4
    jobs_per_bundle: Mapping[str, int] | None = None
    down_after_s: float = 300.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_gpu <= self.max_gpu:
            raise ValueError(f"need 0 <= min_gpu <= max_gpu, got {self.min_gpu}, {self.max_gpu}")
        if not 0 <= self.min_cpu <= self.max_cpu:
            raise ValueError(f"need 0 <= min_cpu <= max_cpu, got {self.min_cpu}, {self.max_cpu}")
        for name, per in (self.jobs_per_bundle or {}).items():
            if per < 1:
                raise ValueError(f"jobs per bundle for {name} must be >= 1, got {per}")

    def per_bundle(self, job_type: str) -> int:
        defaults = {
            JobType.GENERATE_EMBEDDING.value: 512,
            JobType.SYNC_SELLER.value: 100,
            JobType.SCRAPE_CATALOG.value: 2,
            JobType.QUALITY_CONTROL.value: 50,
            JobType.INDEX_PRODUCT.value: 500,
        }
        return (self.jobs_per_bundle or {}).get(job_type, defaults.get(job_type, 100))

    @classmethod
    def from_settings(cls, ops: OpsSettings) -> ScalePolicy:
        return cls(
            min_gpu=ops.min_gpu_bundles,
            max_gpu=ops.max_gpu_bundles,
            min_cpu=ops.min_cpu_bundles,
            max_cpu=ops.max_cpu_bundles,
            cpus_per_gpu_bundle=ops.cpus_per_gpu_bundle,
            jobs_per_bundle={
                JobType.GENERATE_EMBEDDING.value: ops.embed_jobs_per_gpu,
                JobType.SCRAPE_CATALOG.value: ops.scrape_jobs_per_cpu,
                JobType.QUALITY_CONTROL.value: ops.qc_jobs_per_cpu,
                JobType.INDEX_PRODUCT.value: ops.index_jobs_per_cpu,
            },
            down_after_s=ops.autoscale_down_after_s,
        )


@dataclass(frozen=True, slots=True)
class ScaleState:
    """What is requested now, and since when (and how high) the target has been lower."""

    gpu: int = 0
    cpu: int = 0
    gpu_low_since: float | None = None
    gpu_low_peak: int = 0
    cpu_low_since: float | None = None
    cpu_low_peak: int = 0


def targets(backlog: Mapping[str, int], policy: ScalePolicy) -> tuple[int, int]:
    """(GPU bundles, CPU bundles) the backlog needs, clamped to the policy's bounds."""
    embed = backlog.get(JobType.GENERATE_EMBEDDING.value, 0)
    gpu = math.ceil(max(0, embed) / policy.per_bundle(JobType.GENERATE_EMBEDDING.value))
    cpu = sum(math.ceil(max(0, backlog.get(t.value, 0)) / policy.per_bundle(t)) for t in CPU_TYPES)
    return (
        min(policy.max_gpu, max(policy.min_gpu, gpu)),
        min(policy.max_cpu, max(policy.min_cpu, cpu)),
    )


def _step(
    current: int, target: int, low_since: float | None, low_peak: int, now: float, wait: float
) -> tuple[int, float | None, int]:
    """One resource's hysteresis: (new request, low since, peak target while low)."""
    if target >= current:
        return target, None, 0
    if low_since is None:
        return current, now, target
    peak = max(low_peak, target)
    if now - low_since >= wait:
        return peak, None, 0
    return current, low_since, peak


def decide(
    backlog: Mapping[str, int], state: ScaleState, policy: ScalePolicy, now: float
) -> ScaleState:
    """The next request given the backlog (jobs waiting, delayed or active per type)."""
    gpu_target, cpu_target = targets(backlog, policy)
    gpu, gpu_since, gpu_peak = _step(
        state.gpu, gpu_target, state.gpu_low_since, state.gpu_low_peak, now, policy.down_after_s
    )
    cpu, cpu_since, cpu_peak = _step(
        state.cpu, cpu_target, state.cpu_low_since, state.cpu_low_peak, now, policy.down_after_s
    )
    return replace(
        state,
        gpu=gpu,
        cpu=cpu,
        gpu_low_since=gpu_since,
        gpu_low_peak=gpu_peak,
        cpu_low_since=cpu_since,
        cpu_low_peak=cpu_peak,
    )


def bundles(state: ScaleState, policy: ScalePolicy) -> list[dict[str, float]]:
    """The resource bundles for ``request_resources`` (an empty list clears the request)."""
    gpu_bundle: dict[str, float] = {"GPU": 1.0}
    if policy.cpus_per_gpu_bundle:
        gpu_bundle["CPU"] = float(policy.cpus_per_gpu_bundle)
    return [dict(gpu_bundle) for _ in range(state.gpu)] + [{"CPU": 1.0} for _ in range(state.cpu)]


def backlog_of(stats: Any) -> dict[str, int]:
    """Jobs still to run per type from ``LedgerStats``: waiting + delayed + active."""
    return {
        name: int(t.waiting) + int(t.delayed) + int(t.active) for name, t in stats.types.items()
    }


class AutoscalerLoop:
    """Polls the ledger and applies ``decide``; runs on a thread inside the actor."""

    def __init__(self, settings: Settings, request: Any = None) -> None:
        self._settings = settings
        self._policy = ScalePolicy.from_settings(settings.ops)
        self._interval = settings.ops.autoscale_interval_s
        self._request = request
        self.state = ScaleState()
        self.last_backlog: dict[str, int] = {}
        self.applied: list[dict[str, float]] | None = None
        self.ticks = 0
        self.errors = 0
        self._stop = threading.Event()

    def tick(self, backlog: Mapping[str, int], now: float | None = None) -> list[dict[str, float]]:
        """Decide and, when the request changed, send it. Returns the bundles requested."""
        self.last_backlog = dict(backlog)
        self.state = decide(backlog, self.state, self._policy, time.time() if now is None else now)
        wanted = bundles(self.state, self._policy)
        if wanted != self.applied:
            request = self._request
            if request is None:
                from ray.autoscaler.sdk import request_resources as request
            request(bundles=wanted)
            logger.info(
                "autoscaler: requesting %d GPU and %d CPU bundle(s) for backlog %s",
                self.state.gpu,
                self.state.cpu,
                dict(backlog),
            )
            self.applied = wanted
        self.ticks += 1
        return wanted

    def run(self) -> None:
        from pipeline.ledger import RedisLedger
        from pipeline.runtime import Runtime

        with Runtime(self._settings) as runtime:
            ledger = RedisLedger(
                runtime.redis(), self._settings.jobs, keys=self._settings.redis.keys
            )
            while not self._stop.is_set():
                try:
                    self.tick(backlog_of(ledger.stats(window_minutes=1)))
                except Exception:  # Redis or GCS hiccup: keep the last request, try again
                    self.errors += 1
                    logger.warning("autoscaler tick failed", exc_info=True)
                self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()


class QueueDepthAutoscaler:
    """The Ray actor: one per cluster (named; ``start_autoscaler`` returns the running one),
    polling the ledger on a thread so its methods stay answerable."""

    def __init__(self, settings: Settings) -> None:
        self._loop = AutoscalerLoop(settings)
        self._thread = threading.Thread(target=self._loop.run, name="autoscaler", daemon=True)
        self._thread.start()

    def status(self) -> dict[str, Any]:
        s = self._loop.state
        return {
            "gpu_bundles": s.gpu,
            "cpu_bundles": s.cpu,
            "backlog": self._loop.last_backlog,
            "ticks": self._loop.ticks,
            "errors": self._loop.errors,
            "requested": self._loop.applied,
        }

    def stop(self) -> None:
        """Stops polling and clears the request, so the cluster may scale down."""
        self._loop.stop()
        self._thread.join(timeout=30)
        if self._loop.applied:
            from ray.autoscaler.sdk import request_resources

            request_resources(bundles=[])


ACTOR_NAME = "catalog-sync-autoscaler"


def start_autoscaler(settings: Settings) -> Any:
    """Start the controller actor, or return the one already running in this cluster (several
    workers may enable it; exactly one polls). Needs ``ray.init`` first."""
    import ray

    actor_cls = ray.remote(num_cpus=0, max_restarts=-1)(QueueDepthAutoscaler)
    return actor_cls.options(name=ACTOR_NAME, namespace="catalog-sync", get_if_exists=True).remote(
        settings
    )
