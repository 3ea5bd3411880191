"""Dashboard time series: ledger samples and search timings, kept in Redis.

Every API replica and worker may sample; a ``SET NX EX`` per interval lets exactly one of
them write each sample, so the series has one point per interval however many processes
run (and keeps going with no dashboard open, since workers sample too). Search timings are
pushed by the API replicas to one capped list, so latency percentiles and the cache hit
rate cover every replica, not just the one that answers the dashboard.

Keys: ``<ns>:ops:samples`` (list, newest first, capped), ``<ns>:ops:sample-lock``,
``<ns>:ops:search`` (list of ``at|ms|hit|kind``, newest first, capped).
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any, cast

import redis
import redis.asyncio as aredis

from pipeline.ledger import RedisLedger
from pipeline.redis_keys import RedisKeys

logger = logging.getLogger(__name__)

SEARCH_KEEP = 2000
SEARCH_WINDOW_S = 300.0


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class SearchTimings:
    """Search latencies and cache results of every API replica, in one capped list."""

    def __init__(self, keys: RedisKeys) -> None:
        self.key = keys.ops_search

    async def record(self, client: aredis.Redis, kind: str, ms: float, hit: bool) -> None:
        """One pipelined round trip; a Redis error is logged, never raised (a search must
        not fail because its timing could not be kept)."""
        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.lpush(self.key, f"{time.time():.3f}|{ms:.2f}|{int(hit)}|{kind}")
                pipe.ltrim(self.key, 0, SEARCH_KEEP - 1)
                await pipe.execute()
        except (redis.RedisError, OSError) as exc:
            logger.debug("search timing not recorded: %s", exc)

    def summary(
        self, client: redis.Redis, now: float, window_s: float = SEARCH_WINDOW_S
    ) -> dict[str, Any]:
        """Count, p50 / p95 latency (ms) and cache hit rate over the last ``window_s``."""
        raw = cast(list[bytes], client.lrange(self.key, 0, SEARCH_KEEP - 1))
        latencies: list[float] = []
        hits = 0
        for item in raw:
            at, ms, hit, _ = item.decode().split("|", 3)
            if now - float(at) > window_s:
                break  # newest first: the rest are older still
            latencies.append(float(ms))
            hits += int(hit)
        return {
            "count": len(latencies),
            "p50_ms": _pct(latencies, 0.5),
            "p95_ms": _pct(latencies, 0.95),
            "hit_rate": hits / len(latencies) if latencies else None,
        }


class LedgerSampler:
    """Takes one sample of the ledger per interval, whoever asks first."""

    def __init__(
        self,
        ledger: RedisLedger,
        client: redis.Redis,
        *,
        interval_s: float = 5.0,
        keep: int = 720,
    ) -> None:
        keys = ledger.keys
        self._ledger = ledger
        self._client = client
        self._interval = interval_s
        self._keep = keep
        self.key = keys.ops_samples
        self._lock = keys.ops_sample_lock
        self._search = SearchTimings(keys)

    def sample_if_due(self) -> bool:
        """Write a sample unless another process wrote one this interval. Raises
        redis.RedisError when Redis is unreachable."""
        px = max(1, int(self._interval * 1000))
        if not self._client.set(self._lock, "1", nx=True, px=px):
            return False
        self._client.lpush(self.key, json.dumps(self.take()))
        self._client.ltrim(self.key, 0, self._keep - 1)
        return True

    def take(self) -> dict[str, Any]:
        """One sample: per-type counts and rates, dead letters, and search timings."""
        stats = self._ledger.stats(window_minutes=10)
        types = {
            name: {
                "waiting": t.waiting,
                "delayed": t.delayed,
                "active": t.active,
                "dead": t.dead,
                "completed_per_min": round(t.completed_per_min, 3),
                "failed_per_min": round(t.failed_per_min, 3),
                "failure_rate": t.failure_rate,
                "oldest_waiting_age_s": t.oldest_waiting_age_s,
            }
            for name, t in stats.types.items()
        }
        return {
            "at": stats.at,
            "types": types,
            "search": self._search.summary(self._client, stats.at),
        }

    def read(self, limit: int = 720) -> list[dict[str, Any]]:
        """The latest ``limit`` samples, oldest first."""
        raw = cast(list[bytes], self._client.lrange(self.key, 0, max(0, limit - 1)))
        return [json.loads(item) for item in reversed(raw)]
