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
from pipeline.ledger import JobSpec, RedisLedger, RedisRateLimiter
from pipeline.products import ProductStatus, RedisProductStore, StoredProduct
from pipeline.records import JobType, QCDecision, QCVerdict
from pipeline.search import HybridSearcher, QueryEncoder
from pipeline.settings import Settings
from pipeline.syncs import UrlCheck
from pipeline.vectors.base import VectorStore
from pipeline.vectors.mirror import LiveVectorMirror
from serve.guards import ASSET_BUCKET, ASSET_RATE_FACTOR

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
        self.searcher = HybridSearcher(
            vectors=self.vectors,
            keywords=self.keywords,
            products=self.products,
            encoder=self.encoder,
            cache=self.aredis,
            cache_ttl=self.settings.api.search_cache_ttl,
            text_vectors=not self.settings.siglip.is_tiny,
            mirror=LiveVectorMirror(
                self.products, self.vectors, max_rows=self.settings.api.search_mirror_max_rows
            ),
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

    async def review(self, item: StoredProduct, decision: str, reason: str) -> None:
        """A human decision: approve queues indexing (live after it); reject takes it down."""
        rec = item.record
        approved = decision == "approve"
        verdict = QCVerdict(
            decision=QCDecision.APPROVED if approved else QCDecision.REJECTED,
            reasons=[reason or f"manual {decision}"],
            model="human-review",
            policy_version=item.verdict.policy_version if item.verdict else "manual",
            confidence=1.0,
        )
        status = ProductStatus.APPROVED if approved else ProductStatus.REJECTED
        await asyncio.to_thread(
            self.products.set_status, rec.product_id, rec.content_hash, status, verdict
        )
        await asyncio.to_thread(self.vectors.set_status, [rec.product_id], status.value)
        if approved:
            payload = {
                "product_id": rec.product_id,
                "seller_id": rec.seller_id,
                "content_hash": rec.content_hash,
            }
            await asyncio.to_thread(
                self.ledger.enqueue,
                JobSpec(type=JobType.INDEX_PRODUCT, payload=payload, seller_id=rec.seller_id),
            )
        # A rejected product may keep its BM25 document until the worker next touches it
        # (the API holds the index read-only: one writer); search hides it at once, since
        # it is no longer live.

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
