"""Builds the quality checker ``QC_BACKEND`` names (pipeline/backends.py): Gemini or the
local checker; either way behind the 24 h verdict cache in Redis."""

from __future__ import annotations

import redis

from pipeline.backends import qc_backend
from pipeline.embedding.base import Embedder
from pipeline.images import ImageLimits
from pipeline.qc.base import QualityChecker
from pipeline.qc.cache import CachedQualityChecker, RedisVerdictCache
from pipeline.qc.local import LocalQualityChecker
from pipeline.settings import QCBackend, Settings


def build_quality_checker(
    settings: Settings, redis_client: redis.Redis, *, embedder: Embedder | None = None
) -> CachedQualityChecker:
    """The configured checker, cached. ``embedder`` enables the local checker's zero-shot.

    Raises ConfigError when the Gemini settings are unusable.
    """
    inner: QualityChecker
    limits = ImageLimits.from_settings(settings.catalog)
    if qc_backend(settings) is QCBackend.GEMINI:
        from pipeline.ledger.ratelimit import RedisRateLimiter
        from pipeline.qc.gemini import GeminiQualityChecker

        inner = GeminiQualityChecker(
            settings,
            limiter=RedisRateLimiter(redis_client, settings.redis.keys),
        )
    elif settings.siglip.is_tiny:
        # The untrained test model's vectors are noise: judge on the rules alone, and
        # let any vector count as proof that the image was fetched and decoded.
        inner = LocalQualityChecker(
            settings.qc.model_copy(update={"agreement_min": -1.0}), limits=limits
        )
    else:
        inner = LocalQualityChecker(settings.qc, embedder, limits=limits)
    return CachedQualityChecker(
        inner, RedisVerdictCache(redis_client, settings.redis.keys, ttl_s=settings.qc.cache_ttl)
    )
