"""Verdicts cached in Redis for 24 h, keyed by the product's content hash and the policy
version: a re-sync of unchanged products makes no API call, and a new policy version
checks everything again.
"""

from __future__ import annotations

import redis

from pipeline.model_cache import RedisModelCache
from pipeline.qc.base import QCInput, QualityChecker
from pipeline.records import QCVerdict
from pipeline.redis_keys import RedisKeys


class RedisVerdictCache:
    """``RedisKeys.qc_verdict(policy version, content hash)`` -> verdict JSON, with a TTL
    (``pipeline.model_cache``: a Redis error or an unreadable entry is a miss)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, *, ttl_s: int) -> None:
        self._cache = RedisModelCache(client, QCVerdict, ttl_s=ttl_s, what="qc")
        self._keys = keys

    def key(self, content_hash: str, policy_version: str) -> str:
        return self._keys.qc_verdict(policy_version, content_hash)

    def get(self, content_hash: str, policy_version: str) -> QCVerdict | None:
        return self._cache.get(self.key(content_hash, policy_version))

    def put(self, content_hash: str, verdict: QCVerdict) -> None:
        self._cache.put(self.key(content_hash, verdict.policy_version), verdict)


class CachedQualityChecker:
    """Any QualityChecker behind the verdict cache; errors are never cached."""

    def __init__(self, inner: QualityChecker, cache: RedisVerdictCache) -> None:
        self._inner = inner
        self._cache = cache
        self.hits = 0
        self.misses = 0

    @property
    def policy_version(self) -> str:
        return self._inner.policy_version

    @property
    def inner(self) -> QualityChecker:
        return self._inner

    async def check(self, item: QCInput) -> QCVerdict:
        content_hash = item.product.content_hash
        cached = self._cache.get(content_hash, self.policy_version)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        verdict = await self._inner.check(item)
        self._cache.put(content_hash, verdict)
        return verdict

    async def aclose(self) -> None:
        await self._inner.aclose()
