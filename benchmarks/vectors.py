"""Vector stores side by side: Milvus Lite, a Milvus 2.3 standalone server (HNSW and
FLAT) and the API's in-memory mirror, at N x 768, in one run.

The stores are the production ones: MilvusVectorStore on our ``milvus-lite server`` child
(FLAT: Lite has no real HNSW) and on a Milvus standalone server from the ``milvus`` wheel
(split layout: one collection per vector kind on 2.3). The mirror row is the computation
``LiveVectorMirror`` does (one float32 matrix of approved rows, masks, argpartition).
Rows: unit vectors, 1,000 sellers, half approved. Queries: top-10 by image vector with
``status == "approved"`` (broad) and ``seller_id == X and status == "approved"``
(selective, ~N/2000 rows pass); recall@10 against an exact numpy search. Rows are
clustered by default (``--uniform``: uniform on the sphere). Also: start
time and resident memory (RSS of the server's processes; the mirror's matrix bytes).

Rows are loaded with the store's ``bulk_load`` in upserts of ``--batch`` rows: on a server
the collections are released while rows stream in, sealed once, indexed, then loaded; the
insert rate and the seal + index + load time are reported apart, with the server's CPU
seconds for each (at 100,000 rows the index build is most of the load).

    .venv/bin/python benchmarks/vectors.py --quick          # N = 10,000
    .venv/bin/python benchmarks/vectors.py --rows 100000 --stores server-hnsw,mirror --ef 64,128,256
    .venv/bin/python benchmarks/vectors.py --stores lite,server-hnsw,server-flat,mirror --m 16 \
        --ef-construction 200

Prints a table and writes benchmarks/results/vectors-<N>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.local.milvus import local_milvus  # noqa: E402
from pipeline.local.milvus_standalone import local_milvus_standalone  # noqa: E402
from pipeline.local.services import LocalService  # noqa: E402
from pipeline.vectors.base import VectorFilter, VectorRow  # noqa: E402
from pipeline.vectors.milvus import MilvusVectorStore  # noqa: E402
from pipeline.vectors.milvus_schema import IndexChoice, choose_index  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SELLERS = 1_000
CLUSTERED = True  # --uniform turns it off


def unit_rows(n: int, seed: int) -> np.ndarray:
    """Unit vectors, uniform on the sphere, or (``CLUSTERED``) around 1,000 centres with a
    cosine of ~0.7 to their centre, closer to how image embeddings sit than uniform noise
    (on which any graph index is at its worst)."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, 768)).astype(np.float32)
    if CLUSTERED:
        centres = np.random.default_rng(99).standard_normal((1_000, 768)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        vectors = centres[rng.integers(0, 1_000, n)] + vectors / np.sqrt(768)
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


def group_stats(pid: int) -> list[list[str]]:
    """/proc/<pid>/stat fields (after the command) of every member of a process group."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[2]) == pid or int(proc.name) == pid:  # field 5: process group
                out.append(stat)
        except (OSError, IndexError, ValueError):
            continue
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of a process group, in MB (field 24: rss pages)."""
    return sum(int(s[21]) for s in group_stats(pid)) * os.sysconf("SC_PAGE_SIZE") / 1e6


def cpu_s(pid: int) -> float:
    """CPU seconds used so far by a process group (fields 14, 15: utime, stime)."""
    return sum(int(s[11]) + int(s[12]) for s in group_stats(pid)) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def queries_for(
    images: np.ndarray, count: int
) -> list[tuple[str, VectorFilter, set[str], np.ndarray]]:
    """(kind, filter, exact top-10 ids, query vector) for every query of the run: the exact
    answers are computed here, so that timing windows hold searches only."""
    ids = np.arange(len(images))
    approved = ids % 2 == 0
    out = []
    for kind in ("approved", "seller+approved"):
        for qi, query in enumerate(unit_rows(count, 3)):
            seller = (2 * qi) % SELLERS  # even sellers own approved rows
            mask = approved if kind == "approved" else approved & (ids % SELLERS == seller)
            scores = images[mask] @ query
            truth = {f"p{i}" for i in ids[mask][np.argsort(-scores)[:10]]}
            filters = VectorFilter() if kind == "approved" else VectorFilter(seller_id=f"s{seller}")
            out.append((kind, filters, truth, query))
    return out


def measure(search: Any, queries: list[Any]) -> dict[str, Any]:
    """p50/p99 latency and recall@10 per query kind for ``search(query, filter) -> ids``."""
    out: dict[str, Any] = {}
    for kind in ("approved", "seller+approved"):
        latencies, recalls = [], []
        for k, filters, truth, query in queries:
            if k != kind:
                continue
            t0 = time.perf_counter()
            found = search(query, filters)
            latencies.append((time.perf_counter() - t0) * 1000)
            recalls.append(len(truth & set(found)) / max(1, len(truth)))
        out[kind] = {
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
            "recall_at_10": float(np.mean(recalls)),
        }
    return out


def run_store(
    label: str, service: LocalService, start_s: float, index: IndexChoice, efs: list[int],
    n: int, queries: list[Any], batch: int, images: np.ndarray, texts: np.ndarray,
) -> list[dict[str, Any]]:  # fmt: skip
    """Bulk-load ``n`` rows, then time the queries at each ``ef``. The load is the store's
    ``bulk_load``: on a server the collections are released while rows stream in, sealed
    once, indexed, then loaded (a loaded collection's query node also applied every insert,
    built interim indexes and reloaded each sealed segment on the same two cores)."""
    lite = label.startswith("lite")
    uri = f"http://127.0.0.1:{service.port}"
    store = MilvusVectorStore(uri, collection=f"bench_{index.index_type.lower()}", index=index,
                              lite=lite, upsert_batch=min(batch, 1_000) if lite else batch,
                              timeout=600)  # fmt: skip
    assert service.pid is not None
    results = []
    try:
        cpu0, started = cpu_s(service.pid), time.perf_counter()
        with store.bulk_load():
            for start in range(0, n, batch):
                store.upsert(
                    make_rows(start, images[start : start + batch], texts[start : start + batch])
                )
            cpu1, inserted = cpu_s(service.pid), time.perf_counter()
        cpu2, loaded = cpu_s(service.pid), time.perf_counter()
        load: dict[str, Any] = {
            "insert_s": inserted - started, "upsert_rows_per_s": n / (inserted - started),
            "seal_s": loaded - inserted, "searchable_s": loaded - started,
            "server_cpu_insert_s": cpu1 - cpu0, "server_cpu_index_s": cpu2 - cpu1,
        }  # fmt: skip
        if not lite:  # how many segments each search visits after the load
            load["segments"] = {
                name: len(store._client.list_loaded_segments(name)) for name in store.layout.names
            }
        print(f"  {label}: {load}", flush=True)
        for ef in efs:
            if "ef" in index.search:
                store.index = replace(index, search={**index.search, "ef": ef})
            for _kind, filters, _mask, query in queries[:10]:  # warm-up: caches, connections
                store.search(query, filters=filters, limit=10)
            cpu_before = cpu_s(service.pid)
            timed = measure(
                lambda q, f: [h.product_id for h in store.search(q, filters=f, limit=10)], queries
            )
            # What a query costs the server's cores (all its components), for sizing.
            timed["server_cpu_ms_per_query"] = (
                (cpu_s(service.pid) - cpu_before) * 1000 / len(queries)
            )
            results.append({
                "store": label, "index": index.index_type, "build": index.build,
                "ef": ef if "ef" in index.search else None, "rows": n, **load,
                "start_s": start_s, "rss_mb": rss_mb(service.pid), **timed,
            })  # fmt: skip
            print(f"  {label} ef={ef}: {timed}", flush=True)
    finally:
        store.drop()
        store.close()
    return results


def run_mirror(n: int, queries: list[Any], images: np.ndarray) -> dict[str, Any]:
    """The mirror's computation: approved rows' vectors in one matrix, masks, argpartition."""
    started = time.perf_counter()
    ids = np.arange(n)
    keep = ids % 2 == 0
    matrix = np.ascontiguousarray(images[keep])
    row_ids = ids[keep]
    sellers = (row_ids % SELLERS).astype(np.int32)
    load_s = time.perf_counter() - started

    def search(query: np.ndarray, filters: VectorFilter) -> list[str]:
        if filters.seller_id is None:
            rows = None
        else:
            rows = np.flatnonzero(sellers == int(filters.seller_id[1:]))
        scores = (matrix if rows is None else matrix[rows]) @ query
        k = min(10, scores.size)
        top = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
        picked = top if rows is None else rows[top]
        return [f"p{row_ids[i]}" for i in picked]

    timed = measure(search, queries)
    return {"store": "mirror", "index": "exact (numpy)", "build": {}, "ef": None, "rows": n,
            "upsert_rows_per_s": None, "seal_s": None, "searchable_s": None,
            "start_s": load_s, "rss_mb": matrix.nbytes / 1e6, **timed}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 10,000, 30 queries")
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--queries", type=int, default=0, help="per filter kind")
    parser.add_argument(
        "--lite-queries",
        type=int,
        default=0,
        help="per filter kind on Lite (its filtered query takes ~1 s at 100k)",
    )
    parser.add_argument("--stores", default="lite,server-hnsw,server-flat,mirror")
    parser.add_argument("--ef", default="64,128", help="HNSW search ef values, comma list")
    parser.add_argument("--m", type=int, default=16, help="HNSW M")
    parser.add_argument("--ef-construction", type=int, default=200, help="HNSW efConstruction")
    parser.add_argument("--batch", type=int, default=5_000, help="rows per upsert call")
    parser.add_argument("--uniform", action="store_true", help="uniform, not clustered, rows")
    args = parser.parse_args()
    global CLUSTERED
    CLUSTERED = not args.uniform
    n = args.rows or (10_000 if args.quick else 100_000)
    count = args.queries or (30 if args.quick else 200)
    stores = args.stores.split(",")
    efs = [int(e) for e in args.ef.split(",")]
    images, texts = unit_rows(n, 1), unit_rows(n, 2)
    queries = queries_for(images, count)

    results: list[dict[str, Any]] = []
    target = RESULTS / f"vectors-{n}.json"
    with tempfile.TemporaryDirectory(prefix="bench-vectors-") as data_dir:
        for label in [s for s in stores if s != "mirror"]:
            lite = label == "lite"
            t0 = time.perf_counter()
            factory = local_milvus if lite else local_milvus_standalone
            service = factory(Path(data_dir) / label)
            service.ensure()
            start_s = time.perf_counter() - t0
            print(f"{label}: started in {start_s:.1f} s", flush=True)
            kind = "FLAT" if lite or label.endswith("flat") else "HNSW"
            index = choose_index(kind, lite=lite, hnsw_m=args.m,
                                 ef_construction=args.ef_construction)  # fmt: skip
            asked = queries
            if lite and args.lite_queries:
                asked = [q for q in queries if q[0] == "approved"][: args.lite_queries] + [
                    q for q in queries if q[0] != "approved"
                ][: args.lite_queries]
            try:
                results += run_store(label, service, start_s, index,
                                     efs if kind == "HNSW" else [0], n, asked,
                                     args.batch, images, texts)  # fmt: skip
            finally:
                service.close()
            write_results(target, args, results)  # each store's rows as soon as they exist
    if "mirror" in stores:
        results.append(run_mirror(n, queries, images))
    print_results(results)
    write_results(target, args, results)
    print(f"wrote {target}")


def write_results(target: Path, args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    target.parent.mkdir(exist_ok=True)
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "shared": True}
    target.write_text(json.dumps({"machine": machine, "args": vars(args), "results": results},
                                 indent=2))  # fmt: skip


def print_results(results: list[dict[str, Any]]) -> None:
    print("\n| store | index | rows | insert rows/s | seal+index+load s | server CPU index s "
          "| start s | RSS MB | server CPU ms/query | filter | p50 ms | p99 ms "
          "| recall@10 |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for r in results:
        build = ",".join(f"{k}={v}" for k, v in r["build"].items())
        label = r["index"] + (f" {build}" if build else "") + (f" ef={r['ef']}" if r["ef"] else "")
        rate = f"{r['upsert_rows_per_s']:.0f}" if r["upsert_rows_per_s"] else "-"
        seal = f"{r['seal_s']:.1f}" if r["seal_s"] is not None else "-"
        cpu = f"{r['server_cpu_index_s']:.0f}" if r.get("server_cpu_index_s") is not None else "-"
        per_query = r.get("server_cpu_ms_per_query")
        query_cpu = f"{per_query:.1f}" if per_query is not None else "-"
        for name in ("approved", "seller+approved"):
            s = r[name]
            print(
                f"| {r['store']} | {label} | {r['rows']} | {rate} | {seal} | {cpu} "
                f"| {r['start_s']:.1f} | {r['rss_mb']:.0f} | {query_cpu} | {name} "
                f"| {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {s['recall_at_10']:.3f} |"
            )


if __name__ == "__main__":
    main()
