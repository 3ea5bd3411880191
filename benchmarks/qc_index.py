"""Quality control and keyword index figures.

1. Local QC verdicts per minute: rules only, and rules + SigLIP zero-shot + image-text
   agreement (prompt vectors from the tiny SigLIP; product vectors given, as the embed
   stage hands them over), and verdicts served from the Redis cache. The seed managed
   50-100 verdicts/min through Gemini.
2. Keyword index at N products (100,000; ``--quick`` 10,000): bulk indexing rate in batches
   of 1,000 and BM25 query latency p50/p99 with filters (status + price range, a third with
   a seller too), for tantivy and SQLite FTS5 side by side: the figures behind the choice
   of the embedded engine. Text: names and 25-word descriptions drawn from a ~20,000-word
   vocabulary with Zipf weights (real words in EN/PT/ES/HI are the most frequent); queries
   of 1-3 words drawn the same way. Elasticsearch is not measured: no cluster here.

    .venv/bin/python benchmarks/qc_index.py --quick
    .venv/bin/python benchmarks/qc_index.py

Prints a table and writes benchmarks/results/qc_index.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from pipeline.keyword.base import KeywordDoc, KeywordFilter, KeywordIndex  # noqa: E402
from pipeline.keyword.sqlite_index import SqliteKeywordIndex  # noqa: E402
from pipeline.keyword.tantivy_index import TantivyKeywordIndex  # noqa: E402
from pipeline.qc.base import QCInput  # noqa: E402
from pipeline.qc.cache import CachedQualityChecker, RedisVerdictCache  # noqa: E402
from pipeline.qc.local import LocalQualityChecker  # noqa: E402
from pipeline.records import ProductRecord  # noqa: E402
from pipeline.redis_keys import DEFAULT_NAMESPACE, RedisKeys
from pipeline.settings import QCSettings, Settings  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ADJECTIVES = (
    "red blue green black white wooden ceramic silver cotton linen leather handmade".split()
)
ITEMS = (
    "mug shirt wallet candle basket earrings notebook scarf planter bracelet lamp chair "
    "sandals kurta saree camisa bolsa vestido sapato garrafa caneca tapete cuaderno "
    "collar कुर्ता साड़ी थैला दीया"
).split()
WORDS = (
    "soft warm durable gift summer winter organic recycled classic modern vintage small "
    "large set pair pack premium natural algodão couro hecho mano feito à mão सूती हस्तनिर्मित"
).split()


def vocabulary(size: int = 20_000, seed: int = 3) -> tuple[list[str], list[float]]:
    """Real words first, then made-up ones, with Zipf weights: a catalog's long tail."""
    rng = random.Random(seed)
    syllables = "ka ri to ne sa mo lu pe di ra vo chi na ta ko mi be".split()
    made_up = {
        "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(size)
    }
    words = ADJECTIVES + ITEMS + WORDS + sorted(made_up - set(ADJECTIVES + ITEMS + WORDS))
    return words, [1.0 / (rank + 10) for rank in range(len(words))]


def synthetic_docs(n: int, seed: int = 7) -> list[KeywordDoc]:
    rng = random.Random(seed)
    words, weights = vocabulary()
    docs = []
    for i in range(n):
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(ITEMS)} " + " ".join(
            rng.choices(words, weights, k=2)
        )
        description = " ".join(rng.choices(words, weights, k=25))
        docs.append(
            KeywordDoc(
                product_id=f"s{i % 500}:p{i}",
                seller_id=f"s{i % 500}",
                name=name,
                description=description,
                status="approved" if rng.random() < 0.9 else "flagged",
                price=Decimal(rng.randint(100, 500_000)) / 100,
                currency="USD",
                content_hash=f"{i:032x}",
            )
        )
    return docs


def queries(count: int, seed: int = 11) -> list[tuple[str, KeywordFilter]]:
    """1-3 words drawn like the documents' words; price band always, seller in a third."""
    rng = random.Random(seed)
    words, weights = vocabulary()
    out = []
    for i in range(count):
        text = " ".join(rng.choices(words, weights, k=rng.randint(1, 3)))
        low = Decimal(rng.randint(0, 1000))
        seller = f"s{rng.randint(0, 499)}" if i % 3 == 0 else None
        filters = KeywordFilter(seller_id=seller, min_price=low, max_price=low + 2000)
        out.append((text, filters))
    return out


def bench_index(
    name: str, make: Callable[[Path], KeywordIndex], docs: list[KeywordDoc], n_queries: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        index = make(Path(tmp))
        start = time.perf_counter()
        for i in range(0, len(docs), 1000):
            result = index.upsert(docs[i : i + 1000])
            assert not result.errors, result.errors
        index.refresh()
        bulk_s = time.perf_counter() - start
        assert index.count() == len(docs)
        workload = queries(n_queries)
        for text, filters in workload[:50]:  # warm-up: page cache, lazy readers
            index.search(text, filters=filters, limit=10)
        latencies = []
        hits = 0
        for text, filters in workload:
            t0 = time.perf_counter()
            found = index.search(text, filters=filters, limit=10)
            latencies.append((time.perf_counter() - t0) * 1000)
            hits += len(found)
        index.close()
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
    latencies.sort()
    return {
        "engine": name,
        "docs": len(docs),
        "bulk_docs_per_s": len(docs) / bulk_s,
        "query_p50_ms": statistics.median(latencies),
        "query_p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "queries": len(latencies),
        "mean_hits": hits / len(latencies),
        "disk_mb": size / 1e6,
    }


def qc_items(n: int, dim: int) -> list[QCInput]:
    rng = np.random.default_rng(3)
    items = []
    for i, doc in enumerate(synthetic_docs(n, seed=5)):
        record = ProductRecord(
            product_id=doc.product_id,
            seller_id=doc.seller_id,
            name=doc.name,
            description=doc.description,
            price=doc.price,
            currency=doc.currency,
            image_urls=(f"https://shop.example/{i}.jpg",),
            source_url=f"https://shop.example/{i}",
        )
        image, text = rng.standard_normal((2, dim)).astype(np.float32)
        items.append(QCInput(record, b"", image_vector=image, text_vector=text))
    return items


async def verdicts_per_min(checker: Any, items: list[QCInput]) -> float:
    await checker.check(items[0])  # warm-up (prompt vectors)
    start = time.perf_counter()
    for item in items:
        await checker.check(item)
    return len(items) * 60 / (time.perf_counter() - start)


async def bench_qc(n: int) -> list[dict[str, Any]]:
    from pipeline.embedding.local import LocalSiglipEmbedder
    from pipeline.local.redis import local_redis

    settings = Settings().with_overrides(siglip={"model": "tiny"})
    embedder = LocalSiglipEmbedder.from_settings(settings)
    rows = []
    try:
        items = qc_items(n, embedder.dim)
        rules = LocalQualityChecker(QCSettings())
        zero_shot = LocalQualityChecker(QCSettings(), embedder)
        rows.append(
            {"checker": "local: rules", "verdicts_per_min": await verdicts_per_min(rules, items)}
        )
        rows.append(
            {
                "checker": f"local: rules + zero-shot ({embedder.model_name.split()[0]} SigLIP)",
                "verdicts_per_min": await verdicts_per_min(zero_shot, items),
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            import redis

            service = local_redis(Path(tmp))
            port = service.ensure()
            client = redis.Redis(port=port)
            cached = CachedQualityChecker(
                zero_shot, RedisVerdictCache(client, RedisKeys(DEFAULT_NAMESPACE), ttl_s=600)
            )
            for item in items:
                await cached.check(item)
            rate = await verdicts_per_min(cached, items)
            rows.append({"checker": "cache hits (Redis GET)", "verdicts_per_min": rate})
            client.close()
            service.close()
    finally:
        await embedder.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 products, fewer queries")
    parser.add_argument("--products", type=int, default=None)
    args = parser.parse_args()
    n = args.products or (10_000 if args.quick else 100_000)
    n_queries = 300 if args.quick else 2000
    n_qc = 500 if args.quick else 3000

    qc_rows = asyncio.run(bench_qc(n_qc))
    docs = synthetic_docs(n)
    engines: dict[str, Callable[[Path], KeywordIndex]] = {
        "tantivy": lambda d: TantivyKeywordIndex(d / "t"),
        "sqlite-fts5": lambda d: SqliteKeywordIndex(d / "f.db"),
    }
    index_rows = [bench_index(name, make, docs, n_queries) for name, make in engines.items()]

    print(f"\nLocal QC ({n_qc} products, one process, {os.cpu_count()} CPUs, shared machine)")
    print(f"{'checker':<48} {'verdicts/min':>14}")
    for row in qc_rows:
        print(f"{row['checker']:<48} {row['verdicts_per_min']:>14,.0f}")
    print(f"\nKeyword index ({n:,} products, {n_queries} filtered queries, limit 10)")
    print(f"{'engine':<12} {'bulk docs/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'hits':>6} {'MB':>7}")
    for row in index_rows:
        print(
            f"{row['engine']:<12} {row['bulk_docs_per_s']:>12,.0f} {row['query_p50_ms']:>8.2f}"
            f" {row['query_p99_ms']:>8.2f} {row['mean_hits']:>6.1f} {row['disk_mb']:>7.1f}"
        )
    tantivy, sqlite = index_rows
    ratios = {
        "tantivy_vs_sqlite_bulk": tantivy["bulk_docs_per_s"] / sqlite["bulk_docs_per_s"],
        "sqlite_vs_tantivy_p50": sqlite["query_p50_ms"] / tantivy["query_p50_ms"],
        "sqlite_vs_tantivy_p99": sqlite["query_p99_ms"] / tantivy["query_p99_ms"],
    }
    print("ratios (same run): " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "qc": qc_rows,
        "keyword": index_rows,
        "ratios": ratios,
    }
    (RESULTS / "qc_index.json").write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS / 'qc_index.json'}")


if __name__ == "__main__":
    main()
