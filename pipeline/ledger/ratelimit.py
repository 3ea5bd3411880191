"""Token buckets in Redis, one per key (a seller, an API client, an external service).

The refill and the take happen in one Lua script, so any number of processes share a
bucket without races. Time comes from the Redis server (``TIME``), not from callers, so
clients with skewed clocks still agree.
"""

from __future__ import annotations

import logging
import time

import redis

from pipeline.ledger.lua import LuaScript
from pipeline.redis_keys import RedisKeys

logger = logging.getLogger(__name__)

_BUCKET = LuaScript("ratelimit", preludes=())
MAX_KEY = 512


class RedisRateLimiter:
    """Atomic token buckets stored under ``RedisKeys.rate_limit(key)``."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self._client = client
        self._keys = keys

    def acquire(self, key: str, rate_per_s: float, burst: int, tokens: int = 1) -> float:
        """Take ``tokens`` from the bucket ``key`` if it holds them.

        Returns 0.0 when granted; otherwise the seconds until enough tokens will have
        accumulated, and nothing is taken (call again after that wait). The bucket starts
        full (``burst`` tokens) and refills at ``rate_per_s``. Raises ValueError for a
        non-positive rate, burst or token count, for ``tokens > burst`` (never grantable)
        and for an empty or oversized key.
        """
        if not key or len(key) > MAX_KEY:
            raise ValueError(f"rate-limit key must be 1-{MAX_KEY} characters, got {len(key)}")
        if not rate_per_s > 0:
            raise ValueError(f"rate_per_s must be > 0, got {rate_per_s}")
        if burst < 1:
            raise ValueError(f"burst must be an integer >= 1, got {burst}")
        if not 1 <= tokens <= burst:
            raise ValueError(f"tokens must be between 1 and burst ({burst}), got {tokens}")
        raw = _BUCKET(self._client, [self._keys.rate_limit(key)], [repr(rate_per_s), burst, tokens])
        wait = float(raw)
        if wait > 0:
            logger.debug("rate limit %s: wait %.3f s for %s token(s)", key, wait, tokens)
        return wait

    def wait(
        self, key: str, rate_per_s: float, burst: int, tokens: int = 1, *, timeout: float = 60.0
    ) -> None:
        """Block until ``tokens`` are granted.

        Raises TimeoutError when that would take longer than ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            delay = self.acquire(key, rate_per_s, burst, tokens)
            if delay == 0:
                return
            if time.monotonic() + delay > deadline:
                raise TimeoutError(
                    f"rate limit {key!r}: {tokens} token(s) not available within {timeout} s"
                )
            time.sleep(delay)

    def reset(self, key: str) -> None:
        """Forget the bucket: the next call finds it full."""
        self._client.delete(self._keys.rate_limit(key))
