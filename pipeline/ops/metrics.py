"""Prometheus metrics: what a worker process measures, and what the ledger says.

Two sources, so no series is counted twice:

- ``WorkerMetrics`` (the process's default registry): jobs completed / failed per type,
  job durations, embed batch sizes and images/s, QC calls and verdict-cache hits. Each
  worker exposes them on its own port (``OPS_METRICS_PORT``) for Prometheus to scrape:
  they are facts only that process knows.
- ``LedgerCollector`` (the API's registry, read at scrape time): queue depth per state,
  oldest waiting age, failure ratio over the ledger's window, dead letters, worker
  heartbeats, Redis reachability and per-seller sync progress. The ledger is shared by
  every worker, so one reader (the API at ``GET /metrics``) gives the cluster-wide value;
  a gauge per worker would need summing and would vanish with the worker that owned it.

Search latency and cache hits are observed by the API (``SearchMetrics``). Ray's own
metrics export (``ray start --metrics-export-port``) is untouched.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import redis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from pipeline.ledger import RedisLedger
from pipeline.ops.ledgerview import finished_in_window, live_sync_ids, sync_summaries
from pipeline.records import JobType

logger = logging.getLogger(__name__)

PREFIX = "catalog_sync"
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
MAX_SELLER_SERIES = 200  # per-seller series only for syncs in flight, and at most this many


class _QCCacheCollector(Collector):
    """QC calls (verdict-cache misses) and hits, summed over this process's checkers."""

    def __init__(self) -> None:
        self._checkers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()

    def watch(self, checker: Any) -> None:
        # Weak: a stopped worker's checker goes away with it (its counts with it, as a
        # process restart would; Prometheus' rate() treats that as a counter reset).
        with self._lock:
            self._checkers.add(checker)

    def collect(self) -> Iterator[CounterMetricFamily]:
        with self._lock:
            checkers = list(self._checkers)
        hits = sum(int(getattr(c, "hits", 0)) for c in checkers)
        misses = sum(int(getattr(c, "misses", 0)) for c in checkers)
        yield CounterMetricFamily(
            f"{PREFIX}_qc_calls", "QC checks that called the checker (cache misses)", misses
        )
        yield CounterMetricFamily(
            f"{PREFIX}_qc_cache_hits", "QC checks answered from the verdict cache", hits
        )


class WorkerMetrics:
    """One per process (``worker_metrics()``), registered in the default registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        kw: dict[str, Any] = {"registry": registry} if registry is not None else {}
        self.completed = Counter(
            f"{PREFIX}_jobs_completed", "Jobs completed, per type", ["type"], **kw
        )
        self.failed = Counter(
            f"{PREFIX}_jobs_failed",
            "Failed job attempts, per type and next state",
            ["type", "to"],
            **kw,
        )
        self.duration = Histogram(
            f"{PREFIX}_job_duration_seconds",
            "Claim-to-settle time of a job, per type and outcome",
            ["type", "outcome"],
            buckets=DURATION_BUCKETS,
            **kw,
        )
        self.embed_batch = Histogram(
            f"{PREFIX}_embed_batch_size", "Products per embed call", buckets=BATCH_BUCKETS, **kw
        )
        self.embed_images = Counter(
            f"{PREFIX}_embed_images", "Products embedded (one image each)", **kw
        )
        self.embed_rate = Gauge(
            f"{PREFIX}_embed_images_per_second", "Images per second of the last embed call", **kw
        )
        self.qc_cache = _QCCacheCollector()
        (registry or _default_registry()).register(self.qc_cache)

    def job_done(self, job_type: str, outcome: str, duration_s: float) -> None:
        """``outcome``: completed, or the state a failure led to (waiting, delayed, dead)."""
        if outcome == "completed":
            self.completed.labels(job_type).inc()
        else:
            self.failed.labels(job_type, outcome).inc()
        self.duration.labels(job_type, "completed" if outcome == "completed" else "failed").observe(
            max(0.0, duration_s)
        )

    def batch_done(self, job_type: str, size: int, duration_s: float) -> None:
        if job_type != JobType.GENERATE_EMBEDDING.value or size <= 0:
            return
        self.embed_batch.observe(size)
        self.embed_images.inc(size)
        if duration_s > 0:
            self.embed_rate.set(size / duration_s)

    def watch_qc_cache(self, checker: Any) -> None:
        """Count a ``CachedQualityChecker``'s hits and misses (read at scrape time)."""
        self.qc_cache.watch(checker)


def _default_registry() -> CollectorRegistry:
    from prometheus_client import REGISTRY

    return REGISTRY


_worker_metrics: WorkerMetrics | None = None
_worker_lock = threading.Lock()


def worker_metrics() -> WorkerMetrics:
    """The process's worker metrics (created on first use: metric names are process-wide)."""
    global _worker_metrics
    with _worker_lock:
        if _worker_metrics is None:
            _worker_metrics = WorkerMetrics()
        return _worker_metrics


_servers: dict[int, Any] = {}


def serve_worker_metrics(host: str, port: int) -> None:
    """Expose the default registry on ``host:port`` (once per port and process).

    Raises OSError when the port is taken.
    """
    with _worker_lock:
        if port in _servers:
            return
        _servers[port] = start_http_server(port, addr=host)
    logger.info("worker metrics on http://%s:%d/metrics", host, port)


class SearchMetrics:
    """Search latency and verdicts of the result cache, observed by the API."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.latency = Histogram(
            f"{PREFIX}_search_latency_seconds",
            "Search request latency, per kind (text, image)",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            f"{PREFIX}_search_requests",
            "Search requests, per kind and cache result (hit, miss)",
            ["kind", "cache"],
            registry=registry,
        )

    def observe(self, kind: str, seconds: float, cached: bool) -> None:
        self.latency.labels(kind).observe(seconds)
        self.requests.labels(kind, "hit" if cached else "miss").inc()


class LedgerCollector(Collector):
    """Reads the ledger at scrape time; Redis down -> ``catalog_sync_redis_up 0`` only."""

    def __init__(self, ledger: RedisLedger, client: redis.Redis, window_minutes: int = 10):
        self._ledger = ledger
        self._client = client
        self._window = window_minutes

    def describe(self) -> Iterable[Any]:
        return []  # collected lazily: no scrape at registration time

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        up = GaugeMetricFamily(f"{PREFIX}_redis_up", "1 when the ledger's Redis answers")
        try:
            self._client.ping()
            stats = self._ledger.stats(window_minutes=self._window)
            finished = finished_in_window(self._ledger, self._client, stats.at, self._window)
            syncs = self._live_syncs()
        except redis.RedisError as exc:
            logger.warning("metrics: ledger unreadable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _type_families(stats, finished, self._window)
        yield from _consumer_families(stats)
        yield from _sync_families(syncs)

    def _live_syncs(self) -> list[tuple[str, str, float]]:
        """(seller, state, progress %) of waiting and active syncs, newest first, bounded."""
        ids = live_sync_ids(self._ledger, self._client, MAX_SELLER_SERIES)
        out = []
        for row in sync_summaries(self._ledger, self._client, ids):
            out.append((row["seller_id"], row["state"], row["progress"]))
        return out


def _type_families(
    stats: Any, finished_by_type: dict[str, int], window: int
) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    depth = GaugeMetricFamily(
        f"{PREFIX}_queue_jobs", "Jobs per type and state in the ledger", labels=["type", "state"]
    )
    oldest = GaugeMetricFamily(
        f"{PREFIX}_oldest_waiting_age_seconds", "Age of the oldest waiting job", labels=["type"]
    )
    ratio = GaugeMetricFamily(
        f"{PREFIX}_job_failure_ratio",
        f"Failed / (completed + failed) attempts over the last {window} min",
        labels=["type"],
    )
    finished = GaugeMetricFamily(
        f"{PREFIX}_jobs_finished_window",
        f"Completed + failed attempts over the last {window} min",
        labels=["type"],
    )
    per_min = GaugeMetricFamily(
        f"{PREFIX}_jobs_per_minute", "Jobs per minute (trailing 60 s)", labels=["type", "outcome"]
    )
    created = CounterMetricFamily(
        f"{PREFIX}_jobs_created", "Jobs ever created, per type", labels=["type"]
    )
    for name, t in stats.types.items():
        for state in ("waiting", "delayed", "active", "completed", "dead"):
            depth.add_metric([name, state], getattr(t, state))
        oldest.add_metric([name], t.oldest_waiting_age_s or 0.0)
        ratio.add_metric([name], t.failure_rate or 0.0)
        finished.add_metric([name], finished_by_type.get(name, 0))
        per_min.add_metric([name, "completed"], t.completed_per_min)
        per_min.add_metric([name, "failed"], t.failed_per_min)
        created.add_metric([name], t.created)
    yield from (depth, oldest, ratio, finished, per_min, created)


def _consumer_families(stats: Any) -> Iterator[GaugeMetricFamily]:
    age = GaugeMetricFamily(
        f"{PREFIX}_worker_heartbeat_age_seconds",
        "Seconds since the freshest consumer of a type last claimed or reported",
        labels=["type"],
    )
    freshest: dict[str, float] = {}
    for c in stats.consumers:
        freshest[c.type] = min(c.age_s, freshest.get(c.type, c.age_s))
    for name, value in sorted(freshest.items()):
        age.add_metric([name], value)
    yield age


def _sync_families(syncs: list[tuple[str, str, float]]) -> Iterator[GaugeMetricFamily]:
    progress = GaugeMetricFamily(
        f"{PREFIX}_seller_sync_progress_percent",
        "Progress of each seller's sync in flight",
        labels=["seller", "state"],
    )
    for seller, state, pct in syncs:
        progress.add_metric([seller, state], pct)
    yield progress


def api_registry(
    ledger: RedisLedger, client: redis.Redis
) -> tuple[CollectorRegistry, SearchMetrics]:
    """A registry for one API app: the ledger collector and the search metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(ledger, client))
    return registry, SearchMetrics(registry)
