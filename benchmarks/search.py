"""Search latency: hybrid (BM25 + SigLIP vectors, RRF) uncached and cached, with a Zipf
query mix, against the vector store's own filtered query time measured in the same run.

The searcher answers vector queries from its in-memory mirror of live products (as the
API's replicas do), loaded before measuring; the load time is reported. ``--mirror off``
(or ``on,off``: both, on the same stores) measures the searcher without it, every vector
query answered by the store. Products are written straight into the stores (Redis product
store, the vector store, the embedded tantivy index) with random unit vectors; queries are
encoded by the tiny SigLIP (a 768-d vector costs the same to search whatever the model).
Services are private: a ``redis-server`` and the vector store under a temporary DATA_DIR:
Milvus Lite behind our server module (``--store lite``) or a Milvus 2.3 standalone server
from the ``milvus`` wheel (``--store server``: HNSW at the default MILVUS_* settings,
loaded with the store's ``bulk_load``).

    .venv/bin/python benchmarks/search.py [--quick] [--sizes 10000,100000] [--queries N]
    .venv/bin/python benchmarks/search.py --store server --mirror on,off

Prints a table and writes ``benchmarks/results/search.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aredis
from _common import WORDS, print_table, quantile, write_json

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.keyword.factory import open_keyword_index
from pipeline.local.milvus import local_milvus
from pipeline.local.milvus_standalone import local_milvus_standalone
from pipeline.local.redis import local_redis
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import ProductRecord, QCDecision, QCVerdict
from pipeline.redis_keys import DEFAULT_NAMESPACE, RedisKeys
from pipeline.search import HybridSearcher, SearchFilters
from pipeline.search_setup import EmbedderQueryEncoder
from pipeline.settings import Settings
from pipeline.stages.index import keyword_doc
from pipeline.vectors.base import VectorRow
from pipeline.vectors.milvus import MilvusVectorStore
from pipeline.vectors.mirror import LiveVectorMirror

SELLERS = 200


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 768)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def populate(settings: Settings, client: Any, start: int, stop: int) -> None:
    """Products ``start``..``stop`` approved and indexed in every store."""
    rng = np.random.default_rng(start)
    products = RedisProductStore(client, RedisKeys(DEFAULT_NAMESPACE))
    vectors = MilvusVectorStore.from_settings(settings)
    keywords = open_keyword_index(settings, writable=True)
    verdict = QCVerdict(decision=QCDecision.APPROVED, model="bench", policy_version="p1")
    try:
        # On a server: released while loading, sealed and indexed once, loaded again.
        with vectors.bulk_load():
            for lo in range(start, stop, 1000):
                hi = min(stop, lo + 1000)
                records = []
                for i in range(lo, hi):
                    seller = f"s{i % SELLERS}"
                    words = [WORDS[int(rng.zipf(1.3)) % len(WORDS)] for _ in range(3)]
                    records.append(
                        ProductRecord(
                            product_id=ProductRecord.make_id(seller, f"r{i}"),
                            seller_id=seller,
                            retailer_id=f"r{i}",
                            name=" ".join(words).capitalize() + f" {i}",
                            price=Decimal(1 + i % 200),
                            currency="USD",
                            image_urls=(f"http://shop.example/{i}.jpg",),
                            source_url=f"http://shop.example/c/{seller}",
                        )
                    )
                products.put_many(records)
                images, texts = _unit(rng, len(records)), _unit(rng, len(records))
                rows, docs = [], []
                for n, rec in enumerate(records):
                    products.set_status(
                        rec.product_id, rec.content_hash, ProductStatus.APPROVED, verdict
                    )
                    stored = products.get(rec.product_id)
                    assert stored is not None
                    docs.append(keyword_doc(stored))
                    rows.append(
                        VectorRow(
                            rec.product_id,
                            rec.seller_id,
                            "approved",
                            float(rec.price or 0),
                            rec.currency,
                            images[n],
                            texts[n],
                            rec.content_hash,
                            time.time(),
                        )  # fmt: skip
                    )
                vectors.upsert(rows)
                keywords.upsert(docs)
                for rec in records:
                    products.mark_indexed(rec.product_id, rec.content_hash)
                print(f"  populated {hi:,} products", flush=True)
        keywords.refresh()
    finally:
        keywords.close()
        vectors.close()


def zipf_queries(count: int, seed: int = 7) -> list[str]:
    """Queries drawn from a Zipf(1.1) over a vocabulary of two-word queries."""
    rng = np.random.default_rng(seed)
    vocab = [f"{a} {b}" for a in WORDS[:13] for b in WORDS[13:]]
    random.Random(seed).shuffle(vocab)
    return [vocab[(int(rng.zipf(1.1)) - 1) % len(vocab)] for _ in range(count)]


async def measure(
    settings: Settings, redis_url: str, queries: list[str], use_mirror: bool = True
) -> dict[str, Any]:
    import redis as sync_redis

    from pipeline.keyword.factory import open_keyword_index as open_index

    client = sync_redis.Redis.from_url(redis_url)
    embedder = LocalSiglipEmbedder.from_settings(settings)
    encoder = EmbedderQueryEncoder(embedder)
    vectors = MilvusVectorStore.from_settings(settings)
    keywords = open_index(settings, writable=False)
    cache = aredis.Redis.from_url(redis_url)
    products = RedisProductStore(client, RedisKeys(DEFAULT_NAMESPACE))
    max_rows = settings.api.search_mirror_max_rows if use_mirror else 0  # 0: never built
    mirror = LiveVectorMirror(products, vectors, max_rows=max_rows)
    searcher = HybridSearcher(
        vectors=vectors, keywords=keywords, products=products,
        encoder=encoder, cache=cache, text_vectors=True, mirror=mirror,
        keys=RedisKeys(DEFAULT_NAMESPACE),
    )  # fmt: skip
    filters = SearchFilters()
    try:
        # What a new API replica does before its first search can use the mirror.
        started = time.perf_counter()
        mirror.refresh(products.generation())
        mirror_load_s = time.perf_counter() - started
        for q in queries[:20]:  # warm-up: model, index readers, connections
            await searcher.search_text(q + " warm", filters)
        await cache.flushdb()
        uncached: list[float] = []
        cached: list[float] = []
        hits = 0
        for q in queries:
            started = time.perf_counter()
            resp = await searcher.search_text(q, filters)
            ms = (time.perf_counter() - started) * 1000
            (cached if resp.cached else uncached).append(ms)
            hits += resp.cached
        # The vector store alone: the same filtered top-k the searcher asks for (40).
        vector_ms: list[float] = []
        for q in queries[: min(len(queries), 200)]:
            vec = await encoder.encode_text(q)
            started = time.perf_counter()
            vectors.search(vec, field="image_vector", filters=filters.approved(), limit=40)
            vector_ms.append((time.perf_counter() - started) * 1000)
        return {
            "mirror": use_mirror,
            "queries": len(queries),
            "mirror_rows": mirror.size,
            "mirror_load_s": round(mirror_load_s, 2),
            "cache_hit_rate": hits / len(queries),
            "uncached_p50_ms": quantile(uncached, 0.5),
            "uncached_p99_ms": quantile(uncached, 0.99),
            "cached_p50_ms": quantile(cached, 0.5),
            "cached_p99_ms": quantile(cached, 0.99),
            "vector_store_p50_ms": quantile(vector_ms, 0.5),
            "vector_store_p99_ms": quantile(vector_ms, 0.99),
        }
    finally:
        await cache.aclose()
        await embedder.aclose()
        keywords.close()
        vectors.close()
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 products, 300 queries")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument(
        "--store",
        choices=("lite", "server"),
        default="lite",
        help="vector store: Milvus Lite or a Milvus 2.3 standalone server",
    )
    parser.add_argument("--mirror", default="on", help="searcher's in-memory mirror: on, off "
                        "or on,off (both, on the same stores)")  # fmt: skip
    args = parser.parse_args()
    passes = [m == "on" for m in args.mirror.split(",")]
    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",")]
    n_queries = 300 if args.quick else args.queries
    queries = zipf_queries(n_queries)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        data = Path(tmp)
        redis_service = local_redis(data / "redis")
        port = redis_service.ensure()
        url = f"redis://127.0.0.1:{port}/0"
        overrides: dict[str, Any] = {}
        server = None
        if args.store == "server":
            started = time.perf_counter()
            server = local_milvus_standalone(data / "milvus-server")
            overrides["milvus"] = {"uri": f"http://127.0.0.1:{server.ensure()}"}
            print(f"Milvus standalone started in {time.perf_counter() - started:.1f} s")
        settings = Settings().with_overrides(
            core={"data_dir": data}, redis={"url": url}, siglip={"model": "tiny"}, **overrides
        )
        import redis as sync_redis

        client = sync_redis.Redis.from_url(url)
        have = 0
        try:
            for size in sizes:
                started = time.perf_counter()
                populate(settings, client, have, size)
                fill_s = time.perf_counter() - started
                have = size
                for use_mirror in passes:
                    row = asyncio.run(measure(settings, url, queries, use_mirror))
                    row.update({"products": size, "populate_s": round(fill_s, 1),
                                "store": args.store})  # fmt: skip
                    row["hybrid_vs_vector_p99"] = (
                        row["uncached_p99_ms"] / row["vector_store_p99_ms"]
                    )
                    results.append(row)
        finally:
            client.close()
            redis_service.close()
            if server is not None:
                server.close()
            local_milvus(data).close()
    print_table(
        "search latency (ms), Zipf query mix, one run on a shared 2-core machine",
        ["store", "mirror", "products", "mirror load s", "queries", "hit rate", "uncached p50",
         "uncached p99", "cached p50", "cached p99", "Milvus p50", "Milvus p99",
         "hybrid/Milvus p99"],
        [
            [r["store"], "on" if r["mirror"] else "off", r["products"], r["mirror_load_s"],
             r["queries"], r["cache_hit_rate"],
             r["uncached_p50_ms"],
             r["uncached_p99_ms"], r["cached_p50_ms"], r["cached_p99_ms"],
             r["vector_store_p50_ms"], r["vector_store_p99_ms"], r["hybrid_vs_vector_p99"]]
            for r in results
        ],
    )  # fmt: skip
    name = "search" if args.store == "lite" else f"search-{args.store}"
    write_json(name, {"quick": args.quick, "store": args.store, "results": results})


if __name__ == "__main__":
    main()
