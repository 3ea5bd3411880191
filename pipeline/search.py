"""Hybrid search: BM25 and SigLIP vectors fused by weighted reciprocal rank (``fusion.py``),
live products only, with facets, sorts and highlighting over the result set.

A text query runs both halves at once (the keyword index and the text tower's vector
against image vectors); a photo query runs the image tower against image vectors. Vector
queries go to the in-memory mirror of live products when it is current, else to the
vector store. Answers are cached in Redis under the search generation
(``search_cache.py``).
"""

from __future__ import annotations

import asyncio
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import redis.asyncio as aredis

from pipeline.facets import facet_counts, sort_records
from pipeline.fusion import fusion_weights, is_quoted, skips_vectors, weighted_rrf
from pipeline.highlight import QueryMatcher
from pipeline.keyword.base import MAX_LIMIT as KEYWORD_MAX_LIMIT
from pipeline.keyword.base import MAX_QUERY_CHARS, FollowingReader, KeywordIndex
from pipeline.products import RedisProductStore, StoredProduct
from pipeline.records import ProductFilter
from pipeline.redis_keys import RedisKeys
from pipeline.search_cache import AnswerCache
from pipeline.settings import SearchSettings
from pipeline.shopper import ContactLookup, add_seller_fields, in_stock_first, web_url
from pipeline.suggest import Suggester
from pipeline.vectors.base import VectorHit, VectorStore
from pipeline.vectors.mirror import LiveVectorMirror

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
    # name and description with the matched words in <mark> (HTML-escaped otherwise)
    highlight: dict[str, str] | None = None
    availability: str = "unknown"
    product_url: str | None = None  # the product's page at the seller, when known
    seller_name: str | None = None
    contact_url: str | None = None  # a WhatsApp chat naming the product, or a web page
    contact_kind: str | None = None  # "whatsapp" | "shop"


@dataclass
class SearchResponse:
    results: list[SearchHit]
    cached: bool
    took_ms: float
    generation: int
    facets: dict[str, Any] | None = None
    did_you_mean: str | None = None


@dataclass(frozen=True)
class SearchOptions:
    """What a text search adds to its hits: an order, facet counts, highlighting."""

    sort: str = "relevance"  # one of facets.SORTS
    facets: tuple[str, ...] = ()  # any of facets.FACETS
    highlight: bool = True


def normalize_query(text: str) -> str:
    """NFKC, lower case, control characters dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch == " ")
    return " ".join(text.lower().split())[:MAX_QUERY_CHARS]


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
        keys: RedisKeys,
        text_vectors: bool = True,
        mirror: LiveVectorMirror | None = None,
        fusion: SearchSettings | None = None,
        contacts: ContactLookup | None = None,
    ) -> None:
        """``text_vectors`` False answers words with BM25 alone (the tiny test model's
        text vectors are noise that would only shuffle real keyword results). ``mirror``
        answers vector queries from memory when it is current; the store otherwise.
        ``fusion``: RRF weights, k and depths (SEARCH_* settings). ``contacts`` looks up
        sellers' names and contacts for the hits (not cached)."""
        self._contacts = contacts
        self._vectors = vectors
        self._keywords = keywords
        self._products = products
        self._encoder = encoder
        self._answers = AnswerCache(cache, cache_ttl, keys)
        self._text_vectors = text_vectors
        self._mirror = mirror
        self._fusion = fusion if fusion is not None else SearchSettings()
        self.suggester = Suggester(keywords, cache, keys)
        self._caught_up = -1  # the product generation the keyword reader has caught up with

    async def search_text(
        self,
        query: str,
        filters: SearchFilters,
        limit: int = 20,
        offset: int = 0,
        options: SearchOptions | None = None,
    ) -> SearchResponse:
        """Hybrid search; ``options`` adds a sort, facets over the whole result set and
        highlighting (on by default)."""
        started = time.perf_counter()
        options = options if options is not None else SearchOptions()
        normalized = normalize_query(query)
        generation = self._products.generation()
        key = self._answers.key(
            generation, "text", normalized, asdict(filters), limit, offset, asdict(options)
        )
        cached = await self._cached(key, started)
        if cached is not None:
            return cached
        await self._catch_up(generation)
        index_facets = options.facets and isinstance(self._keywords, FacetingIndex)
        # Facets from the index count every keyword match without loading a document.
        facets_task = (
            asyncio.to_thread(
                self._keywords.facet_counts,  # type: ignore[attr-defined]
                _words(normalized),
                filters.approved(),
                options.facets,
            )
            if index_facets
            else None
        )
        ranked = await self._ranked(
            normalized, filters, limit + offset, options, whole_set=not index_facets
        )
        stored = await asyncio.to_thread(self._products.get_many, [pid for pid, _, _ in ranked])
        live = [(pid, score, src) for pid, score, src in ranked if _is_live(stored.get(pid))]
        facets = await facets_task if facets_task is not None else None
        if options.facets and facets_task is None:
            facets = facet_counts([stored[pid].record for pid, _, _ in live], options.facets)
        if options.sort != "relevance":
            live = await self._sorted(live, stored, options.sort, filters.currency)
        else:
            live = in_stock_first(live, lambda t: stored[t[0]].record.availability.value)
        page = live[offset : offset + limit]
        hits = [_hit(stored[pid], score, src) for pid, score, src in page]
        add_seller_fields(hits, self._contacts)
        did_you_mean = _highlight(hits, normalized) if options.highlight and hits else None
        resp = SearchResponse(hits, False, _ms(started), generation, facets, did_you_mean)
        await self._answers.put(key, asdict(resp))
        if hits:
            await self.suggester.record(normalized)
        return resp

    async def _catch_up(self, generation: int) -> None:
        """Makes the keyword reader show every product live at ``generation``, so that an
        answer cached under it is not older than it. A product is marked live (a
        generation bump) only after the writer's commit returned, so a reader reloaded
        after the generation was read sees it; an embedded reader in the API's process
        would otherwise follow the worker's commits only after a delay, and an answer
        computed in between would be cached for the whole TTL."""
        if generation > self._caught_up and isinstance(self._keywords, FollowingReader):
            await asyncio.to_thread(self._keywords.catch_up)
            self._caught_up = max(self._caught_up, generation)

    async def _ranked(
        self,
        normalized: str,
        filters: SearchFilters,
        depth: int,
        options: SearchOptions,
        whole_set: bool,
    ) -> list[tuple[str, float, list[str]]]:
        """Both halves fused by weighted RRF; the vector half skipped for a quoted phrase,
        a lone SKU-like code, or when text vectors are off. ``whole_set``: facets need the
        whole result set from here (the index cannot count them itself)."""
        whole_set = (whole_set and bool(options.facets)) or options.sort != "relevance"
        # Deep pages ask for more candidates, up to what the keyword index serves in one call.
        fetch = min(max(depth * 2, 20), KEYWORD_MAX_LIMIT)
        if whole_set:
            fetch = max(fetch, self._fusion.result_set_depth)
        words = _words(normalized)
        use_vector = self._text_vectors and bool(normalized) and not skips_vectors(normalized)
        vector = await self._encoder.encode_text(words) if use_vector else None
        bm25_task = asyncio.to_thread(
            self._keywords.search, words, filters=filters.approved(), limit=fetch
        )
        rankings: dict[str, list[str]] = {}
        if vector is not None:
            vector_depth = max(self._fusion.vector_depth, min(depth * 2, KEYWORD_MAX_LIMIT))
            vec_hits, bm25_hits = await asyncio.gather(
                self._nearest_images(vector, filters, vector_depth, self._products.generation()),
                bm25_task,
            )
            rankings["vector"] = [h.product_id for h in vec_hits]
        else:
            bm25_hits = await bm25_task
        rankings["bm25"] = [h.product_id for h in bm25_hits]
        return weighted_rrf(rankings, fusion_weights(self._fusion), self._fusion.rrf_k)

    async def _sorted(
        self,
        live: list[tuple[str, float, list[str]]],
        stored: dict[str, StoredProduct],
        sort: str,
        currency: str | None,
    ) -> list[tuple[str, float, list[str]]]:
        changed: dict[str, float] = {}
        if sort == "newest":
            changed = await asyncio.to_thread(
                self._products.changed_at, [pid for pid, _, _ in live]
            )
        by_id = {pid: (pid, score, src) for pid, score, src in live}
        records = sort_records(
            [stored[pid].record for pid, _, _ in live],
            sort,
            currency=currency,
            changed_at=lambda pid: changed.get(pid, 0.0),
        )
        return [by_id[record.product_id] for record in records]

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
        key = self._answers.key(generation, "similar", product_id, asdict(filters), limit, offset)
        cached = await self._cached(key, started)
        if cached is not None:
            return cached
        item = await asyncio.to_thread(self._products.get, product_id)
        if item is None or not item.live:
            return None
        vector = await self._image_vector(product_id, generation)
        if vector is None:
            return None
        found = await self.similar_to_vector(vector, filters, offset + limit + 1, 0, generation)
        hits = [hit for hit in found if hit.product_id != product_id][offset : offset + limit]
        resp = SearchResponse(hits, False, _ms(started), generation)
        await self._answers.put(key, asdict(resp))
        return resp

    async def _image_vector(
        self, product_id: str, generation: int
    ) -> npt.NDArray[np.float32] | None:
        """A live product's image vector: from the mirror when it is current, else the
        store's row (None when it has none)."""
        if self._mirror is not None:
            vector = await asyncio.to_thread(self._mirror.image_vector, product_id, generation)
            if vector is not None:
                return vector
        rows = await asyncio.to_thread(self._vectors.fetch, [product_id])
        return rows[0].image_vector if rows else None

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
        """Keep products that are live now (approved and indexed), out-of-stock ones after
        the rest, then paginate."""
        stored = self._products.get_many([pid for pid, _, _ in ranked])
        hits = [
            _hit(stored[pid], score, sources)
            for pid, score, sources in ranked
            if _is_live(stored.get(pid))
        ]
        page: list[SearchHit] = in_stock_first(hits)[offset : offset + limit]
        add_seller_fields(page, self._contacts)
        return page

    async def _cached(self, key: str, started: float) -> SearchResponse | None:
        data = await self._answers.get(key)
        if data is None:
            return None
        hits = [SearchHit(**item) for item in data["results"]]
        add_seller_fields(hits, self._contacts)
        return SearchResponse(
            hits, True, _ms(started), data["generation"], data["facets"], data["did_you_mean"]
        )


@runtime_checkable
class FacetingIndex(Protocol):
    """A keyword index that counts facets over all its matches itself (tantivy)."""

    def facet_counts(
        self, query: str, filters: ProductFilter, names: Sequence[str]
    ) -> dict[str, Any]: ...


def _words(normalized: str) -> str:
    """The query the keyword index gets: a quoted phrase without its quotes."""
    return normalized.strip('"') if is_quoted(normalized) else normalized


def _is_live(item: StoredProduct | None) -> bool:
    return item is not None and item.live


def _hit(item: StoredProduct, score: float, sources: list[str]) -> SearchHit:
    rec = item.record
    return SearchHit(
        product_id=rec.product_id,
        score=round(score, 6),
        seller_id=rec.seller_id,
        name=rec.name,
        description=rec.description[:500],
        price=str(rec.price) if rec.price is not None else None,
        currency=rec.currency,
        image_url=rec.image_urls[0] if rec.image_urls else None,
        sources=sources,
        availability=rec.availability.value,
        product_url=web_url(rec.source_url),
    )


def _highlight(hits: list[SearchHit], query: str) -> str | None:
    """Fills each hit's ``highlight``; returns "did you mean" when typos carried them."""
    matcher = QueryMatcher(query.strip('"'))
    matcher.allow_unknown([text for hit in hits for text in (hit.name, hit.description)])
    for hit in hits:
        hit.highlight = {
            "name": matcher.mark(hit.name),
            "description": matcher.snippet(hit.description),
        }
    return matcher.did_you_mean()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
