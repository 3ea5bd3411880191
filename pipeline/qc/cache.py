"""Verdicts cached in Redis for 24 h, keyed by the product's content hash and the policy
version: a re-sync of unchanged products makes no API call, and a new policy version
checks everything again.
"""

from __future__ import annotations

import logging
from typing import cast

import redis
from pydantic import ValidationError

from pipeline.qc.base import QCInput, QualityChecker
from pipeline.records import QCVerdict

logger = logging.getLogger(__name__)


class RedisVerdictCache:
    """``<namespace>:qc:verdict:<policy version>:<content hash>`` -> verdict JSON, with a TTL."""

    def __init__(self, client: redis.Redis, *, ttl_s: int, namespace: str = "cs") -> None:
        self._client = client
        self._ttl = ttl_s
        self._prefix = f"{namespace}:qc:verdict:"

    def key(self, content_hash: str, policy_version: str) -> str:
        return f"{self._prefix}{policy_version}:{content_hash}"

    def get(self, content_hash: str, policy_version: str) -> QCVerdict | None:
        """The cached verdict, or None. A Redis error is logged and counts as a miss."""
        key = self.key(content_hash, policy_version)
        try:
            raw = cast(bytes | None, self._client.get(key))
        except redis.RedisError as exc:
            logger.warning("qc cache read failed for %s: %s", key, exc)
            return None
        if raw is None:
            return None
        try:
            return QCVerdict.model_validate_json(raw)
        except ValidationError:
            # Written by an older release with another schema: recheck rather than fail.
            logger.warning("qc cache entry %s is unreadable; dropping it", key)
            self._client.delete(key)
            return None

    def put(self, content_hash: str, verdict: QCVerdict) -> None:
        """Stores the verdict (no-op when the TTL is 0). A Redis error is logged, not raised."""
        if self._ttl <= 0:
            return
        key = self.key(content_hash, verdict.policy_version)
        try:
            self._client.set(key, verdict.model_dump_json(), ex=self._ttl)
        except redis.RedisError as exc:
            logger.warning("qc cache write failed for %s: %s", key, exc)


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
