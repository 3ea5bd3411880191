"""A search right after a product goes live finds it, and a cached answer is never older
than the generation it is cached under: the API's keyword reader (another process than
the writer) catches up with the commits a new product generation stands for."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import redis
import redis.asyncio as aredis

from pipeline.keyword.tantivy_index import TantivyKeywordIndex
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import ProductRecord, QCDecision, QCVerdict
from pipeline.redis_keys import RedisKeys
from pipeline.search import HybridSearcher, SearchFilters
from pipeline.stages.index import keyword_doc

VERDICT = QCVerdict(decision=QCDecision.APPROVED, model="test", policy_version="p1")


def go_live(store: RedisProductStore, writer: TantivyKeywordIndex, n: int) -> str:
    """What the index stage does: the writer commits, then the product is marked live
    (which bumps the search generation)."""
    rec = ProductRecord(
        product_id=ProductRecord.make_id("s1", f"r{n}"),
        seller_id="s1",
        retailer_id=f"r{n}",
        name=f"Purple desk lamp {n}",
        price=Decimal("20"),
        currency="USD",
        source_url="http://shop.example/",
    )
    store.put_many([rec])
    store.set_status(rec.product_id, rec.content_hash, ProductStatus.APPROVED, VERDICT)
    stored = store.get(rec.product_id)
    assert stored is not None
    writer.upsert([keyword_doc(stored)])
    assert store.mark_indexed(rec.product_id, rec.content_hash)
    return rec.product_id


def test_a_search_right_after_indexing_finds_the_product_and_caches_nothing_stale(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    keys = RedisKeys("fresh")
    store = RedisProductStore(redis_client, keys)
    writer = TantivyKeywordIndex(tmp_path / "kw", heap_bytes=15_000_000)
    reader = TantivyKeywordIndex(tmp_path / "kw", writable=False)  # as the API opens it

    async def run() -> None:
        cache = aredis.Redis.from_url(redis_url)
        searcher = HybridSearcher(
            vectors=None,  # type: ignore[arg-type]  # words only: text vectors off
            keywords=reader,
            products=store,
            encoder=None,  # type: ignore[arg-type]
            cache=cache,
            cache_ttl=3600,
            keys=keys,
            text_vectors=False,
        )
        live: set[str] = set()
        try:
            for n in range(4):
                live.add(go_live(store, writer, n))
                # at once: the reader's own reload follows commits only after a delay
                first = await searcher.search_text("purple lamp", SearchFilters())
                assert {h.product_id for h in first.results} == live
                again = await searcher.search_text("purple lamp", SearchFilters())
                assert again.cached and {h.product_id for h in again.results} == live
        finally:
            await cache.aclose()

    try:
        asyncio.run(run())
    finally:
        reader.close()
        writer.close()
