"""Milvus Lite: upsert rate and filtered top-10 search latency (and recall) at N x 768.

The store is the production one (MilvusVectorStore on a ``milvus-lite server`` child).
Rows: unit vectors, 1,000 sellers, half approved. Queries: top-10 by image vector with
``status == "approved"`` (broad) and with ``seller_id == X and status == "approved"``
(selective, ~N/2000 rows pass); recall@10 against an exact numpy search.

    .venv/bin/python benchmarks/vectors.py --quick          # N = 10,000
    .venv/bin/python benchmarks/vectors.py                  # N = 100,000 (slow)
    .venv/bin/python benchmarks/vectors.py --index FLAT,HNSW

Prints a table and writes benchmarks/results/vectors.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.local.milvus import local_milvus  # noqa: E402
from pipeline.vectors.base import VectorFilter, VectorRow  # noqa: E402
from pipeline.vectors.milvus import MilvusVectorStore  # noqa: E402
from pipeline.vectors.milvus_schema import choose_index  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SELLERS = 1_000


def unit_rows(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, 768)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def make_rows(start: int, vectors: np.ndarray, texts: np.ndarray) -> list[VectorRow]:
    return [
        VectorRow(
            product_id=f"p{start + i}",
            seller_id=f"s{(start + i) % SELLERS}",
            status="approved" if (start + i) % 2 == 0 else "pending",
            price=float((start + i) % 500),
            currency="USD",
            image_vector=vectors[i],
            text_vector=texts[i],
            content_hash=f"{start + i:032x}",
            updated_at=1_700_000_000.0,
        )
        for i in range(len(vectors))
    ]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def run_index(
    uri: str, index_type: str, ef: int, n: int, queries: int, batch: int
) -> dict[str, Any]:
    index = choose_index(index_type, lite=True, ef=ef)
    store = MilvusVectorStore(
        uri, collection=f"bench_{index_type.lower()}_{ef}", index=index, lite=True,
        upsert_batch=batch, timeout=600,
    )  # fmt: skip
    try:
        store.drop()
        store = MilvusVectorStore(
            uri, collection=store.collection, index=index, lite=True, upsert_batch=batch,
            timeout=600,
        )  # fmt: skip
        images = unit_rows(n, 1)
        texts = unit_rows(n, 2)
        started = time.perf_counter()
        for start in range(0, n, batch):
            store.upsert(
                make_rows(start, images[start : start + batch], texts[start : start + batch])
            )
            if start and start % (10 * batch) == 0:
                print(f"  {index_type}: {start} rows", flush=True)
        store.flush()
        upsert_s = time.perf_counter() - started
        print(f"  {index_type}: {n} rows in {upsert_s:.1f} s", flush=True)
        ids = np.arange(n)
        approved = ids % 2 == 0
        query_vectors = unit_rows(queries, 3)
        result: dict[str, Any] = {
            "index": index_type,
            "ef": ef if index_type == "HNSW" else None,
            "rows": n,
            "upsert_s": upsert_s,
            "upsert_rows_per_s": n / upsert_s,
        }
        for name in ("approved", "seller+approved"):
            latencies, recalls = [], []
            for qi, query in enumerate(query_vectors):
                seller = f"s{(2 * qi) % SELLERS}"  # even sellers own approved rows
                if name == "approved":
                    filters, mask = VectorFilter(), approved
                else:
                    filters = VectorFilter(seller_id=seller)
                    mask = approved & (ids % SELLERS == (2 * qi) % SELLERS)
                t0 = time.perf_counter()
                hits = store.search(query, filters=filters, limit=10)
                latencies.append((time.perf_counter() - t0) * 1000)
                scores = images[mask] @ query
                truth = {f"p{i}" for i in ids[mask][np.argsort(-scores)[:10]]}
                recalls.append(len(truth & {h.product_id for h in hits}) / max(1, len(truth)))
            result[name] = {
                "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99),
                "recall_at_10": float(np.mean(recalls)),
            }
            print(f"  {index_type} {name}: p50 {result[name]['p50_ms']:.1f} ms", flush=True)
        return result
    finally:
        store.drop()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 10,000, 30 queries")
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--queries", type=int, default=0)
    parser.add_argument("--index", default="FLAT", help="comma list: FLAT,HNSW")
    parser.add_argument("--ef", default="64", help="HNSW search ef values, comma list")
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    n = args.rows or (10_000 if args.quick else 100_000)
    queries = args.queries or (30 if args.quick else 100)

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-vectors-") as data_dir:
        service = local_milvus(Path(data_dir))
        port = service.ensure()
        try:
            for index_type in args.index.split(","):
                efs = [int(e) for e in args.ef.split(",")] if index_type == "HNSW" else [0]
                for ef in efs:
                    results.append(
                        run_index(
                            f"http://127.0.0.1:{port}", index_type, ef, n, queries, args.batch
                        )
                    )
        finally:
            service.close()

    print("\n| index | rows | upsert rows/s | filter | p50 ms | p99 ms | recall@10 |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        label = r["index"] + (f" ef={r['ef']}" if r["ef"] else "")
        for name in ("approved", "seller+approved"):
            s = r[name]
            print(
                f"| {label} | {r['rows']} | {r['upsert_rows_per_s']:.0f} | {name} "
                f"| {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {s['recall_at_10']:.2f} |"
            )
    RESULTS.mkdir(exist_ok=True)
    out = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "shared": True},
        "args": vars(args),
        "results": results,
    }
    (RESULTS / "vectors.json").write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS / 'vectors.json'}")


if __name__ == "__main__":
    main()
