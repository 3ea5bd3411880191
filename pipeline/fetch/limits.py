"""Per-host politeness: at most N requests in flight and a token-bucket request rate.

Shared by the HTTP fetcher and the browser's request router, so a seller's host sees one
budget whichever of them is talking to it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    updated: float
    semaphore: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class HostLimiter:
    """``async with limiter.slot("host:port"):`` waits for a concurrency slot and a token.

    ``rate`` is requests per second per host with a burst of ``burst`` requests.
    """

    def __init__(self, concurrency: int, rate: float, burst: int | None = None) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency}")
        if rate <= 0:
            raise ValueError(f"rate must be > 0 requests per second, got {rate}")
        self.concurrency = concurrency
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1, int(rate)))
        self._buckets: dict[str, _Bucket] = {}

    def _bucket(self, host: str) -> _Bucket:
        bucket = self._buckets.get(host)
        if bucket is None:
            bucket = _Bucket(self.burst, time.monotonic(), asyncio.Semaphore(self.concurrency))
            self._buckets[host] = bucket
        return bucket

    async def _take_token(self, bucket: _Bucket) -> None:
        # The lock queues waiters in order, so a busy host is served first come first served.
        async with bucket.lock:
            while True:
                now = time.monotonic()
                bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
                bucket.updated = now
                if bucket.tokens >= 1:
                    bucket.tokens -= 1
                    return
                await asyncio.sleep((1 - bucket.tokens) / self.rate)

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        bucket = self._bucket(host)
        async with bucket.semaphore:
            await self._take_token(bucket)
            yield
