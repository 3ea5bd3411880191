"""What a search needs, opened from settings: one wiring for the API and the CLI.

The API's replicas (``serve.app.build_deps``) and the in-process CLI (``catalog-sync
search``, the demo's searches) build their :class:`HybridSearcher` here, so the two
cannot drift apart in how the mirror, fusion, cache and seller contacts are set up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import redis
import redis.asyncio as aredis

from pipeline.embedding.base import Embedder
from pipeline.keyword.base import KeywordIndex
from pipeline.products import RedisProductStore
from pipeline.runtime import Runtime
from pipeline.search import HybridSearcher, QueryEncoder
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import Settings
from pipeline.vectors.base import VectorStore
from pipeline.vectors.deferred import DeferredVectorStore
from pipeline.vectors.mirror import LiveVectorMirror

if TYPE_CHECKING:
    from pipeline.embedding.local import LocalSiglipEmbedder

Vector = npt.NDArray[np.float32]


class EmbedderQueryEncoder:
    """A ``QueryEncoder`` over an ``Embedder`` in this process."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    async def encode_text(self, text: str) -> Vector:
        vectors = await self._embedder.embed_texts([text])
        row: Vector = vectors[0]
        return row

    async def encode_image(self, image: bytes) -> Vector:
        vectors = await self._embedder.embed_images([image])
        row: Vector = vectors[0]
        return row


class DeferredQueryEncoder:
    """A ``QueryEncoder`` that loads the model the settings name on its first query: a
    search by words with the tiny model (BM25 alone) never imports torch."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._embedder: LocalSiglipEmbedder | None = None
        self._lock = asyncio.Lock()

    async def _encoder(self) -> EmbedderQueryEncoder:
        async with self._lock:
            if self._embedder is None:
                from pipeline.embedding.local import LocalSiglipEmbedder

                self._embedder = await asyncio.to_thread(
                    LocalSiglipEmbedder.from_settings, self._settings
                )
            return EmbedderQueryEncoder(self._embedder)

    async def encode_text(self, text: str) -> Vector:
        return await (await self._encoder()).encode_text(text)

    async def encode_image(self, image: bytes) -> Vector:
        return await (await self._encoder()).encode_image(image)

    async def aclose(self) -> None:
        if self._embedder is not None:
            await self._embedder.aclose()
            self._embedder = None


def open_search_stores(settings: Settings) -> tuple[VectorStore, KeywordIndex]:
    """The vector store and the keyword index (read-only: the worker owns the writer)."""
    from pipeline.keyword.factory import open_keyword_index
    from pipeline.vectors.milvus import MilvusVectorStore

    return MilvusVectorStore.from_settings(settings), open_keyword_index(settings, writable=False)


def build_searcher(
    settings: Settings,
    *,
    client: redis.Redis,
    cache: aredis.Redis | None,
    products: RedisProductStore,
    vectors: VectorStore,
    keywords: KeywordIndex,
    encoder: QueryEncoder,
    mirror: bool = True,
) -> HybridSearcher:
    """``mirror`` False: vector queries always go to the store (a one-shot search would
    only pay for loading the mirror)."""
    max_rows = settings.api.search_mirror_max_rows if mirror else 0
    return HybridSearcher(
        vectors=vectors,
        keywords=keywords,
        products=products,
        encoder=encoder,
        cache=cache,
        cache_ttl=settings.api.search_cache_ttl,
        keys=settings.redis.keys,
        text_vectors=not settings.siglip.is_tiny,
        mirror=LiveVectorMirror(products, vectors, max_rows=max_rows),
        fusion=settings.search,
        contacts=RedisSellerDirectory(client, settings.redis.keys).contacts,
    )


@contextlib.asynccontextmanager
async def local_searcher(
    settings: Settings, encoder: QueryEncoder | None = None
) -> AsyncIterator[HybridSearcher]:
    """A searcher in this process over the stores of ``settings``; closes them on exit.

    One-shot: the vector store is opened, and the model loaded (unless ``encoder`` is
    given), only when a search needs them; a search by words with the tiny model reads
    Redis and the keyword index alone, and starts no Milvus server.
    """
    from pipeline.keyword.factory import open_keyword_index

    def open_vectors() -> VectorStore:
        from pipeline.vectors.milvus import MilvusVectorStore  # pymilvus costs ~1 s to import

        return MilvusVectorStore.from_settings(settings)

    closers: list[Callable[[], Any]] = []
    runtime = Runtime(settings)
    closers.append(runtime.close)
    try:
        client = runtime.redis()
        cache = aredis.Redis.from_url(runtime.redis_url())
        closers.append(cache.aclose)
        if encoder is None:
            deferred = DeferredQueryEncoder(settings)
            closers.append(deferred.aclose)
            encoder = deferred
        vectors = DeferredVectorStore(open_vectors)
        closers.append(vectors.close)
        keywords = open_keyword_index(settings, writable=False)
        closers.append(keywords.close)
        yield build_searcher(
            settings,
            client=client,
            cache=cache,
            products=RedisProductStore(client, settings.redis.keys),
            vectors=vectors,
            keywords=keywords,
            encoder=encoder,
            mirror=False,
        )
    finally:
        for close in reversed(closers):
            with contextlib.suppress(Exception):
                result = close()
                if hasattr(result, "__await__"):
                    await result
