"""Picks the quality checker from settings: Gemini when ``GEMINI_API_KEY`` is set, else the
local checker; either way behind the 24 h verdict cache in Redis."""

from __future__ import annotations

import redis

from pipeline.embedding.base import Embedder
from pipeline.qc.base import QualityChecker
from pipeline.qc.cache import CachedQualityChecker, RedisVerdictCache
from pipeline.qc.local import LocalQualityChecker
from pipeline.settings import Settings


def build_quality_checker(
    settings: Settings, redis_client: redis.Redis, *, embedder: Embedder | None = None
) -> CachedQualityChecker:
    """The configured checker, cached. ``embedder`` enables the local checker's zero-shot.

    Raises ConfigError when the Gemini settings are unusable.
    """
    inner: QualityChecker
    if settings.gemini.api_key is not None:
        from pipeline.ledger.ratelimit import RedisRateLimiter
        from pipeline.qc.gemini import GeminiQualityChecker

        inner = GeminiQualityChecker(
            settings, redis_client=redis_client, limiter=RedisRateLimiter(redis_client)
        )
    elif settings.siglip.is_tiny:
        # The untrained test model's vectors are noise: judge on the rules alone, and
        # let any vector count as proof that the image was fetched and decoded.
        inner = LocalQualityChecker(settings.qc.model_copy(update={"agreement_min": -1.0}))
    else:
        inner = LocalQualityChecker(settings.qc, embedder)
    return CachedQualityChecker(inner, RedisVerdictCache(redis_client, ttl_s=settings.qc.cache_ttl))
