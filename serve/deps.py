"""What the API's routes use, built once per replica from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio as aredis

from pipeline.keys import ApiKeyStore
from pipeline.keyword.base import KeywordIndex
from pipeline.ledger import RedisLedger, RedisRateLimiter
from pipeline.products import RedisProductStore
from pipeline.search import QueryEncoder
from pipeline.search_setup import build_searcher
from pipeline.settings import Settings
from pipeline.syncs import UrlCheck
from pipeline.vectors.base import VectorStore
from serve.client_address import ClientAddresses
from serve.guards import ASSET_BUCKET, ASSET_RATE_FACTOR, MAX_UPLOAD_BODY
from serve.stream_caps import StreamCaps
from serve.upload_images import UploadShrinker

logger = logging.getLogger(__name__)


@dataclass
class ApiDeps:
    settings: Settings
    redis: redis.Redis
    aredis: aredis.Redis
    ledger: RedisLedger
    products: RedisProductStore
    keys: ApiKeyStore
    limiter: RedisRateLimiter
    vectors: VectorStore
    keywords: KeywordIndex
    encoder: QueryEncoder
    check_url: UrlCheck | None = None
    closers: list[Callable[[], Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.addresses = ClientAddresses(self.settings.api.trusted_proxies)
        self.stream_caps = StreamCaps()
        self.uploads = UploadShrinker(MAX_UPLOAD_BODY)
        self.closers.append(self.uploads.close)
        self.searcher = build_searcher(
            self.settings,
            client=self.redis,
            cache=self.aredis,
            products=self.products,
            vectors=self.vectors,
            keywords=self.keywords,
            encoder=self.encoder,
        )

    async def rate_check(self, bucket: str) -> float:
        per_minute = self.settings.api.rate_limit_per_minute
        if bucket.startswith(ASSET_BUCKET):
            per_minute *= ASSET_RATE_FACTOR
        try:
            return await asyncio.to_thread(
                self.limiter.acquire, bucket[:400], per_minute / 60.0, max(1, per_minute // 6)
            )
        except Exception:  # Redis down: serve rather than refuse everyone (readyz says so)
            logger.warning("rate limiter unavailable", exc_info=True)
            return 0.0

    async def readiness(self) -> dict[str, bool]:
        checks: dict[str, Callable[[], Awaitable[Any]]] = {
            "redis": lambda: asyncio.to_thread(self.redis.ping),
            "vectors": lambda: asyncio.to_thread(self.vectors.count),
            "keyword_index": lambda: asyncio.to_thread(self.keywords.count),
            "embedder": lambda: self.encoder.encode_text("ready"),
        }
        out = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=5)
                out[name] = True
            except Exception:
                out[name] = False
        return out

    async def aclose(self) -> None:
        await self.aredis.aclose()
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                result = close()
                if asyncio.iscoroutine(result):
                    await result
