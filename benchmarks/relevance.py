"""Search relevance on a judged multilingual query set, and search/suggest latency at scale.

Part 1 (relevance): a generated catalog (``relevance_data.py``: pt, es, fr, id, hi, en) and
judged queries of known kinds (exact, one and two typos, inflections, missing accents,
other-language synonyms, SKU, several words). recall@10 and NDCG@10 per kind, p50/p99
latency, for:

- ``bm25``: plain BM25 as the embedded index had it before (folded words plus an
  English-stemmed copy; no typo tolerance, no other language);
- ``fuzzy+stem``: the embedded index as it is now (``TantivyKeywordIndex``);
- ``hybrid``: that index fused by ``pipeline.fusion.weighted_rrf`` (default SEARCH_*
  settings) with a vector half from the tiny SigLIP's text tower over product names. The
  tiny model has random weights: this row checks the plumbing and shows what a noisy
  vector half costs; it says nothing about real SigLIP;
- ``bm25s``: the bm25s library (its own tokenizer, no stemming) as an outside baseline.

Part 2 (scale): ``HybridSearcher.search_text`` with facets and highlighting, uncached, and
``/v1/suggest``'s suggester, over N products in a private redis-server and a tantivy index.

    .venv/bin/python benchmarks/relevance.py [--quick] [--products 2400] [--scale 100000]

Prints tables and writes ``benchmarks/results/relevance.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import tantivy
from _common import print_table, quantile, write_json
from relevance_data import Judged, Product, catalog, queries

from pipeline.fusion import skips_vectors, weighted_rrf
from pipeline.keyword.base import KeywordDoc
from pipeline.keyword.tantivy_index import TantivyKeywordIndex
from pipeline.settings import SearchSettings

K = 10


def keyword_doc(p: Product) -> KeywordDoc:
    return KeywordDoc(
        product_id=p.product_id,
        seller_id=f"seller-{p.language}",
        name=p.name,
        description=p.description,
        status="approved",
        price=Decimal(p.price),
        currency=p.currency,
        content_hash=p.product_id,
        sku=p.sku,
    )


class PlainBm25:
    """The embedded index's analysis before typo tolerance and languages: folded words
    and an English-stemmed copy, name 3x."""

    FIELDS = {"name": 3.0, "name_en": 1.5, "description": 1.0, "description_en": 0.5}

    def __init__(self, products: list[Product], path: Path) -> None:
        def analyzer(stem: bool) -> Any:
            builder = (
                tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(r"[\p{L}\p{M}\p{N}]+"))
                .filter(tantivy.Filter.lowercase())
                .filter(tantivy.Filter.ascii_fold())
            )
            if stem:
                builder = builder.filter(tantivy.Filter.stemmer("english"))
            return builder.build()

        self.analyzers = {False: analyzer(False), True: analyzer(True)}
        sb = tantivy.SchemaBuilder()
        sb.add_text_field("id", stored=True, tokenizer_name="raw")
        for name in self.FIELDS:
            sb.add_text_field(name, tokenizer_name="en" if name.endswith("_en") else "plain")
        path.mkdir(parents=True)
        self.index = tantivy.Index(sb.build(), path=str(path))
        self.index.register_tokenizer("plain", self.analyzers[False])
        self.index.register_tokenizer("en", self.analyzers[True])
        writer = self.index.writer(heap_size=50_000_000, num_threads=1)
        for p in products:
            writer.add_document(
                tantivy.Document(
                    id=p.product_id, name=p.name, name_en=p.name,
                    description=p.description, description_en=p.description,
                )
            )  # fmt: skip
        writer.commit()
        self.index.reload()
        self.schema = self.index.schema

    def search(self, query: str, limit: int) -> list[str]:
        should = []
        for name, boost in self.FIELDS.items():
            for term in dict.fromkeys(self.analyzers[name.endswith("_en")].analyze(query)):
                q = tantivy.Query.term_query(self.schema, name, term)
                should.append((tantivy.Occur.Should, tantivy.Query.boost_query(q, boost)))
        if not should:
            return []
        searcher = self.index.searcher()
        hits = searcher.search(tantivy.Query.boolean_query(should), limit).hits
        return [searcher.doc(a)["id"][0] for _, a in hits]


class Bm25s:
    def __init__(self, products: list[Product]) -> None:
        import bm25s

        self.bm25s = bm25s
        self.ids = [p.product_id for p in products]
        corpus = [f"{p.name} {p.description}" for p in products]
        self.retriever = bm25s.BM25()
        self.retriever.index(bm25s.tokenize(corpus, stopwords=None, show_progress=False),
                             show_progress=False)  # fmt: skip

    def search(self, query: str, limit: int) -> list[str]:
        tokens = self.bm25s.tokenize([query], stopwords=None, show_progress=False)
        if not tokens.vocab:
            return []
        docs, scores = self.retriever.retrieve(tokens, k=limit, show_progress=False)
        return [self.ids[int(d)] for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


class TinyHybrid:
    """The current index fused with a brute-force vector half from the tiny text tower."""

    def __init__(self, products: list[Product], index: TantivyKeywordIndex) -> None:
        from pipeline.embedding.local import LocalSiglipEmbedder
        from pipeline.settings import Settings

        settings = Settings().with_overrides(siglip={"model": "tiny"})
        self.embedder = LocalSiglipEmbedder.from_settings(settings)
        self.loop = asyncio.new_event_loop()
        names = [p.name for p in products]
        vectors = []
        for lo in range(0, len(names), 256):
            vectors.append(
                self.loop.run_until_complete(self.embedder.embed_texts(names[lo : lo + 256]))
            )
        self.matrix = np.vstack(vectors).astype(np.float32)
        self.ids = [p.product_id for p in products]
        self.index = index
        self.fusion = SearchSettings()

    def search(self, query: str, limit: int) -> list[str]:
        fetch = max(limit * 2, 20)
        rankings = {"bm25": [h.product_id for h in self.index.search(query, limit=fetch)]}
        if not skips_vectors(query):
            vector = self.loop.run_until_complete(self.embedder.embed_texts([query]))[0]
            top = np.argsort(-(self.matrix @ vector))[: self.fusion.vector_depth]
            rankings["vector"] = [self.ids[i] for i in top]
        weights = {"bm25": self.fusion.bm25_weight, "vector": self.fusion.vector_weight}
        fused = weighted_rrf(rankings, weights, self.fusion.rrf_k)
        return [pid for pid, _, _ in fused[:limit]]

    def close(self) -> None:
        self.loop.run_until_complete(self.embedder.aclose())
        self.loop.close()


def ndcg(found: list[str], grades: dict[str, int]) -> float:
    dcg = sum(grades.get(pid, 0) / math.log2(i + 2) for i, pid in enumerate(found[:K]))
    ideal = sorted(grades.values(), reverse=True)[:K]
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best else 0.0


def recall(found: list[str], grades: dict[str, int]) -> float:
    if not grades:
        return 0.0
    hits = sum(1 for pid in found[:K] if pid in grades)
    return hits / min(K, len(grades))


def evaluate(name: str, search: Any, judged: list[Judged]) -> dict[str, Any]:
    per_kind: dict[str, list[tuple[float, float]]] = defaultdict(list)
    latencies = []
    for query in judged:
        started = time.perf_counter()
        found = search(query.text, K)
        latencies.append((time.perf_counter() - started) * 1000)
        per_kind[query.kind].append((recall(found, query.grades), ndcg(found, query.grades)))
    kinds = {
        kind: {
            "queries": len(values),
            "recall@10": round(sum(v[0] for v in values) / len(values), 3),
            "ndcg@10": round(sum(v[1] for v in values) / len(values), 3),
        }
        for kind, values in per_kind.items()
    }
    return {
        "config": name,
        "kinds": kinds,
        "p50_ms": round(quantile(latencies, 0.5), 2),
        "p99_ms": round(quantile(latencies, 0.99), 2),
    }


def relevance(n_products: int, tmp: Path) -> list[dict[str, Any]]:
    products = catalog(n_products)
    judged = queries(products)
    print(f"{len(products)} products, {len(judged)} judged queries")
    plain = PlainBm25(products, tmp / "plain")
    index = TantivyKeywordIndex(tmp / "tantivy", heap_bytes=50_000_000)
    started = time.perf_counter()
    for lo in range(0, len(products), 1000):
        index.upsert([keyword_doc(p) for p in products[lo : lo + 1000]])
    print(f"indexed with analysis in {time.perf_counter() - started:.1f} s")
    hybrid = TinyHybrid(products, index)
    configs = [
        ("bm25", plain.search),
        ("fuzzy+stem", lambda q, k: [h.product_id for h in index.search(q, limit=k)]),
        ("hybrid (tiny model)", hybrid.search),
        ("bm25s", Bm25s(products).search),
    ]
    try:
        return [evaluate(name, fn, judged) for name, fn in configs]
    finally:
        hybrid.close()
        index.close()


async def _scale(n: int, data: Path, n_queries: int) -> dict[str, Any]:
    import redis as sync_redis
    import redis.asyncio as aredis

    from pipeline.local.redis import local_redis
    from pipeline.products import ProductStatus, RedisProductStore
    from pipeline.records import ProductRecord, QCDecision, QCVerdict
    from pipeline.redis_keys import DEFAULT_NAMESPACE, RedisKeys
    from pipeline.search import HybridSearcher, SearchFilters, SearchOptions
    from pipeline.stages.index import keyword_doc as stored_doc

    service = local_redis(data / "redis")
    url = f"redis://127.0.0.1:{service.ensure()}/0"
    # Everything that can fail comes after this point, so the redis-server never outlives it.
    client = sync_redis.Redis.from_url(url)
    cache = aredis.Redis.from_url(url)
    index = None
    try:
        keys = RedisKeys(DEFAULT_NAMESPACE)
        store = RedisProductStore(client, keys)
        index = TantivyKeywordIndex(data / "scale-tantivy", heap_bytes=100_000_000)
        products = catalog(n, seed=3)
        verdict = QCVerdict(decision=QCDecision.APPROVED, model="bench", policy_version="p1")
        started = time.perf_counter()
        for lo in range(0, n, 2000):
            records = [
                ProductRecord(
                    product_id=p.product_id, seller_id=f"seller-{i % 500}", retailer_id=p.sku,
                    name=p.name, description=p.description, price=Decimal(p.price),
                    currency=p.currency, source_url="http://shop.example/",
                )
                for i, p in enumerate(products[lo : lo + 2000], start=lo)
            ]  # fmt: skip
            store.put_many(records)
            for r in records:
                store.set_status(r.product_id, r.content_hash, ProductStatus.APPROVED, verdict)
            stored = store.get_many([r.product_id for r in records])
            index.upsert([stored_doc(stored[r.product_id]) for r in records])
            for r in records:
                store.mark_indexed(r.product_id, r.content_hash)
        fill_s = time.perf_counter() - started
        searcher = HybridSearcher(
            vectors=None,  # type: ignore[arg-type]  # words only: text_vectors off
            keywords=index, products=store, encoder=None,  # type: ignore[arg-type]
            cache=cache, cache_ttl=0, keys=keys, text_vectors=False,
        )  # fmt: skip
        judged = queries(products[:3000], per_kind=20)
        rng = random.Random(5)
        options = SearchOptions(facets=("seller_id", "currency", "price", "availability"))
        search_ms, suggest_ms = [], []
        for _ in range(n_queries):
            text = rng.choice(judged).text
            t0 = time.perf_counter()
            await searcher.search_text(text, SearchFilters(), limit=20, options=options)
            search_ms.append((time.perf_counter() - t0) * 1000)
            prefix = text[: rng.randint(2, max(2, min(len(text), 9)))]
            t0 = time.perf_counter()
            await searcher.suggester.suggest(prefix, 8)
            suggest_ms.append((time.perf_counter() - t0) * 1000)
        return {
            "products": n,
            "populate_s": round(fill_s, 1),
            "queries": n_queries,
            "search_facets_highlight_p50_ms": round(quantile(search_ms, 0.5), 2),
            "search_facets_highlight_p99_ms": round(quantile(search_ms, 0.99), 2),
            "suggest_p50_ms": round(quantile(suggest_ms, 0.5), 2),
            "suggest_p99_ms": round(quantile(suggest_ms, 0.99), 2),
        }
    finally:
        if index is not None:
            index.close()
        await cache.aclose()
        client.close()
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,400 relevance, 10k scale")
    parser.add_argument("--products", type=int, default=2400)
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    scale = 10_000 if args.quick else args.scale
    with tempfile.TemporaryDirectory(prefix="bench-relevance-") as tmp:
        rows = relevance(args.products, Path(tmp))
        kinds = list(rows[0]["kinds"])
        print_table(
            f"relevance: recall@10 / NDCG@10 per query kind ({args.products} products)",
            ["config", *kinds, "p50 ms", "p99 ms"],
            [
                [r["config"],
                 *(f"{r['kinds'][k]['recall@10']:.2f} / {r['kinds'][k]['ndcg@10']:.2f}"
                   for k in kinds),
                 r["p50_ms"], r["p99_ms"]]
                for r in rows
            ],
        )  # fmt: skip
        print("queries per kind:", {k: rows[0]["kinds"][k]["queries"] for k in kinds})
        at_scale = asyncio.run(_scale(scale, Path(tmp), args.queries)) if scale else None
    if at_scale:
        print_table(
            "uncached search with facets + highlighting, and suggest (ms)",
            ["products", "search p50", "search p99", "suggest p50", "suggest p99"],
            [[at_scale["products"], at_scale["search_facets_highlight_p50_ms"],
              at_scale["search_facets_highlight_p99_ms"], at_scale["suggest_p50_ms"],
              at_scale["suggest_p99_ms"]]],
        )  # fmt: skip
    write_json("relevance", {"products": args.products, "relevance": rows, "scale": at_scale})


if __name__ == "__main__":
    main()
