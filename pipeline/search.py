"""Hybrid search: BM25 and SigLIP vectors fused by reciprocal rank, live products only.

A text query runs both halves at once (the keyword index and the text tower's vector
against image vectors); a photo query runs the image tower against image vectors. Vector
queries go to the in-memory mirror of live products when it is current, else to the
vector store. Results are cached in Redis for an hour under a key that includes the
search generation, which every sync bumps, so a new sync makes stale entries unreachable
at once without a scan.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Protocol

import numpy as np
import numpy.typing as npt
import redis.asyncio as aredis

from pipeline.keyword.base import MAX_LIMIT as KEYWORD_MAX_LIMIT
from pipeline.keyword.base import KeywordIndex
from pipeline.products import RedisProductStore
from pipeline.records import ProductFilter
from pipeline.vectors.base import VectorHit, VectorStore
from pipeline.vectors.mirror import LiveVectorMirror

RRF_K = 60  # the constant of Cormack et al.; damps the weight of the very top ranks
MAX_QUERY_CHARS = 512
MAX_LIMIT = 100
MAX_OFFSET = 1_000


class QueryEncoder(Protocol):
    """The SigLIP towers for queries (a Serve deployment in production)."""

    async def encode_text(self, text: str) -> npt.NDArray[np.float32]: ...

    async def encode_image(self, image: bytes) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True)
class SearchFilters:
    seller_id: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    currency: str | None = None

    def approved(self) -> ProductFilter:
        """The store filter: these filters, approved products only."""
        return ProductFilter(status="approved", **asdict(self))


@dataclass
class SearchHit:
    product_id: str
    score: float
    seller_id: str
    name: str
    description: str
    price: str | None
    currency: str | None
    image_url: str | None
    sources: list[str] = field(default_factory=list)  # "bm25", "vector"


@dataclass
class SearchResponse:
    results: list[SearchHit]
    cached: bool
    took_ms: float
    generation: int


def normalize_query(text: str) -> str:
    """NFKC, lower case, control characters dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch == " ")
    return " ".join(text.lower().split())[:MAX_QUERY_CHARS]


def rrf_fuse(rankings: dict[str, list[str]], k: int = RRF_K) -> list[tuple[str, float, list[str]]]:
    """Reciprocal-rank fusion: score(d) = sum over rankings of 1 / (k + rank(d))."""
    scores: dict[str, float] = {}
    sources: dict[str, list[str]] = {}
    for name, ids in rankings.items():
        for rank, pid in enumerate(ids, start=1):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank)
            sources.setdefault(pid, []).append(name)
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [(pid, score, sources[pid]) for pid, score in ordered]


class HybridSearcher:
    def __init__(
        self,
        *,
        vectors: VectorStore,
        keywords: KeywordIndex,
        products: RedisProductStore,
        encoder: QueryEncoder,
        cache: aredis.Redis | None,
        cache_ttl: int = 3600,
        namespace: str = "cs",
        text_vectors: bool = True,
        mirror: LiveVectorMirror | None = None,
    ) -> None:
        """``text_vectors`` False answers words with BM25 alone (the tiny test model's
        text vectors are noise that would only shuffle real keyword results). ``mirror``
        answers vector queries from memory when it is current; the store otherwise."""
        self._vectors = vectors
        self._keywords = keywords
        self._products = products
        self._encoder = encoder
        self._cache = cache
        self._ttl = cache_ttl
        self._ns = namespace
        self._text_vectors = text_vectors
        self._mirror = mirror

    async def search_text(
        self, query: str, filters: SearchFilters, limit: int = 20, offset: int = 0
    ) -> SearchResponse:
        started = time.perf_counter()
        normalized = normalize_query(query)
        generation = self._products.generation()
        key = self._cache_key("text", normalized, filters, limit, offset, generation)
        cached = await self._cache_get(key)
        if cached is not None:
            return SearchResponse(cached, True, _ms(started), generation)
        depth = offset + limit
        # Deep pages ask for more candidates, up to what the keyword index serves in one call.
        fetch = min(max(depth * 2, 20), KEYWORD_MAX_LIMIT)
        use_vector = self._text_vectors and bool(normalized)
        vector = await self._encoder.encode_text(normalized) if use_vector else None
        bm25_task = asyncio.to_thread(
            self._keywords.search, normalized, filters=filters.approved(), limit=fetch
        )
        rankings: dict[str, list[str]] = {}
        if vector is not None:
            vec_hits, bm25_hits = await asyncio.gather(
                self._nearest_images(vector, filters, fetch, generation), bm25_task
            )
            rankings["vector"] = [h.product_id for h in vec_hits]
        else:
            bm25_hits = await bm25_task
        rankings["bm25"] = [h.product_id for h in bm25_hits]
        hits = self._live_hits(rrf_fuse(rankings), offset, limit)
        await self._cache_put(key, hits)
        return SearchResponse(hits, False, _ms(started), generation)

    async def search_image(
        self, image: bytes, filters: SearchFilters, limit: int = 20, offset: int = 0
    ) -> SearchResponse:
        """Visually similar live products; not cached (uploads rarely repeat)."""
        started = time.perf_counter()
        generation = self._products.generation()
        vector = await self._encoder.encode_image(image)
        return SearchResponse(
            await self.similar_to_vector(vector, filters, limit, offset, generation),
            False,
            _ms(started),
            generation,
        )

    async def similar_to_vector(
        self,
        vector: npt.NDArray[np.float32],
        filters: SearchFilters,
        limit: int,
        offset: int,
        generation: int | None = None,
    ) -> list[SearchHit]:
        if generation is None:
            generation = self._products.generation()
        fetch = max((offset + limit) * 2, 20)
        vec_hits = await self._nearest_images(vector, filters, fetch, generation)
        ranked = [(h.product_id, float(h.score), ["vector"]) for h in vec_hits]
        return self._live_hits(ranked, offset, limit)

    async def search_similar(
        self, product_id: str, filters: SearchFilters, limit: int = 20, offset: int = 0
    ) -> SearchResponse | None:
        """More like this: live products whose photos look like ``product_id``'s (itself
        left out), cached like text searches; None when it is not live or has no vector."""
        started = time.perf_counter()
        generation = self._products.generation()
        key = self._cache_key("similar", product_id, filters, limit, offset, generation)
        cached = await self._cache_get(key)
        if cached is not None:
            return SearchResponse(cached, True, _ms(started), generation)
        item = await asyncio.to_thread(self._products.get, product_id)
        rows = await asyncio.to_thread(self._vectors.fetch, [product_id])
        if item is None or not item.live or not rows:
            return None
        found = await self.similar_to_vector(
            rows[0].image_vector, filters, offset + limit + 1, 0, generation
        )
        hits = [hit for hit in found if hit.product_id != product_id][offset : offset + limit]
        await self._cache_put(key, hits)
        return SearchResponse(hits, False, _ms(started), generation)

    async def _nearest_images(
        self, vector: npt.NDArray[np.float32], filters: SearchFilters, limit: int, generation: int
    ) -> list[VectorHit]:
        """Approved products' image vectors nearest to ``vector``: the mirror's answer when
        it has one for this generation, else the vector store's."""
        if self._mirror is not None:
            hits = await asyncio.to_thread(
                self._mirror.search, vector, filters.approved(), limit, generation
            )
            if hits is not None:
                return hits
        return await asyncio.to_thread(
            self._vectors.search,
            vector,
            field="image_vector",
            filters=filters.approved(),
            limit=limit,
        )

    def _live_hits(
        self, ranked: list[tuple[str, float, list[str]]], offset: int, limit: int
    ) -> list[SearchHit]:
        """Keep products that are live now (approved and indexed), then paginate."""
        stored = self._products.get_many([pid for pid, _, _ in ranked])
        hits: list[SearchHit] = []
        for pid, score, sources in ranked:
            item = stored.get(pid)
            if item is None or not item.live:
                continue
            rec = item.record
            hits.append(
                SearchHit(
                    product_id=pid,
                    score=round(score, 6),
                    seller_id=rec.seller_id,
                    name=rec.name,
                    description=rec.description[:500],
                    price=str(rec.price) if rec.price is not None else None,
                    currency=rec.currency,
                    image_url=rec.image_urls[0] if rec.image_urls else None,
                    sources=sources,
                )
            )
        return hits[offset : offset + limit]

    def _cache_key(
        self,
        kind: str,
        query: str,
        filters: SearchFilters,
        limit: int,
        offset: int,
        generation: int,
    ) -> str:
        material = json.dumps(
            [kind, query, asdict(filters), limit, offset], default=str, sort_keys=True
        )
        digest = hashlib.sha256(material.encode()).hexdigest()[:32]
        return f"{self._ns}:search:cache:{generation}:{digest}"

    async def _cache_get(self, key: str) -> list[SearchHit] | None:
        if self._cache is None or self._ttl <= 0:
            return None
        raw = await self._cache.get(key)
        if raw is None:
            return None
        return [SearchHit(**item) for item in json.loads(raw)]

    async def _cache_put(self, key: str, hits: list[SearchHit]) -> None:
        if self._cache is None or self._ttl <= 0:
            return
        await self._cache.set(key, json.dumps([asdict(h) for h in hits]), ex=self._ttl)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
