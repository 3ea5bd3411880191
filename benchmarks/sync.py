"""Time for a full sync of N sample products, end to end, and per-stage products/min.

A sample site serves one seller of N generated products (JSON Lines feed: no browser);
a worker (on a local Ray) syncs it through every stage into Redis, Milvus Lite and the
embedded tantivy index. Models: the tiny test model, and the full ViT-B-16-SigLIP
architecture with random weights (``SIGLIP_RANDOM_WEIGHTS_FOR_BENCHMARKS``: the same
compute as the trained model; nothing is downloaded). The seed's figure: 5-10 min / 100.

    .venv/bin/python benchmarks/sync.py [--quick] [--sizes 100,1000] [--models tiny,ViT-B-16-SigLIP]

Prints a table and writes ``benchmarks/results/sync.json``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import ray
import redis
from _common import generated_seller, print_table, write_json

from pipeline.ledger import RedisLedger
from pipeline.local.milvus import local_milvus
from pipeline.local.redis import local_redis
from pipeline.redis_keys import DEFAULT_NAMESPACE, RedisKeys
from pipeline.sample_site.catalog import SampleCatalog
from pipeline.sample_site.server import SampleSite
from pipeline.settings import Settings
from pipeline.syncs import start_sync, sync_view
from pipeline.worker import BackgroundWorker

STAGES = ["scrape-catalog", "generate-embedding", "quality-control", "index-product"]


def stage_rates(ledger: RedisLedger) -> dict[str, dict[str, float]]:
    """Per type: jobs completed and products/min between its first claim and last ack."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    done: dict[str, int] = defaultdict(int)
    after = "0"
    while True:
        page = ledger.events(after_id=after, count=10_000)
        if not page:
            break
        after = page[-1].id
        for e in page:
            if e.to_state == "active" and e.type not in first:
                first[e.type] = e.at
            if e.to_state == "completed":
                last[e.type] = e.at
                done[e.type] += 1
    out = {}
    for t in STAGES:
        span = max(1e-3, last.get(t, 0) - first.get(t, 0))
        out[t] = {"jobs": done[t], "seconds": round(span, 2), "per_min": done[t] / span * 60}
    return out


def run_one(model: str, size: int, tmp: Path) -> dict[str, Any]:
    phone = "30000000001"
    data = tmp / f"{model}-{size}"
    redis_service = local_redis(data)
    port = redis_service.ensure()
    url = f"redis://127.0.0.1:{port}/0"
    catalog = SampleCatalog([generated_seller(phone, size)])
    siglip: dict[str, Any] = {"model": model, "cpus_per_replica": 1.0}
    if model != "tiny":
        siglip["random_weights_for_benchmarks"] = True
        siglip["max_batch_size"] = 16
    with SampleSite(catalog=catalog) as site:
        settings = Settings().with_overrides(
            core={"data_dir": data},
            redis={"url": url},
            siglip=siglip,
            jobs={"timeout": 600},
            catalog={
                "allowed_hosts": (site.netloc,),
                "per_host_rate": 1000.0,  # one loopback host stands in for many sellers'
                "per_host_concurrency": 16,
                "max_products": max(5000, size),
            },
        )
        client = redis.Redis.from_url(url)
        ledger = RedisLedger(client, settings.jobs, keys=RedisKeys(DEFAULT_NAMESPACE))
        worker = BackgroundWorker(settings).start(timeout=600)
        try:
            started = time.perf_counter()
            feed = f"{site.base_url}/feed/{phone}.jsonl"
            sync_id = start_sync(ledger, client, phone, feed).sync_id
            deadline = time.monotonic() + 3600
            view: dict[str, Any] | None = None
            while time.monotonic() < deadline:
                view = sync_view(ledger, client, sync_id)
                if view is not None and view["ended"]:
                    break
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
        finally:
            worker.stop(timeout=120)
        assert view is not None and view["state"] == "completed", view
        rates = stage_rates(ledger)
        live = view["products"]["live"]
        client.close()
    redis_service.close()
    local_milvus(data).close()
    return {
        "model": model,
        "products": size,
        "live": live,
        "seconds": round(elapsed, 1),
        "products_per_min": size / elapsed * 60,
        "stages": rates,
        "vs_seed_best_5min_per_100": (5 * 60 * size / 100) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 products, tiny model only")
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--models", default="tiny,ViT-B-16-SigLIP")
    args = parser.parse_args()
    sizes = [100] if args.quick else [int(s) for s in args.sizes.split(",")]
    models = ["tiny"] if args.quick else args.models.split(",")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
            for model in models:
                for size in sizes:
                    results.append(run_one(model, size, Path(tmp)))
                    print(f"  {model} x {size}: {results[-1]['seconds']} s", flush=True)
    finally:
        ray.shutdown()
    print_table(
        "full sync (one seller, feed source), one run on a shared 2-core machine",
        ["model", "products", "live", "seconds", "products/min", "embed/min", "QC/min",
         "index/min", "x faster than seed (5 min/100)"],
        [
            [r["model"], r["products"], r["live"], r["seconds"], r["products_per_min"],
             r["stages"]["generate-embedding"]["per_min"],
             r["stages"]["quality-control"]["per_min"],
             r["stages"]["index-product"]["per_min"], r["vs_seed_best_5min_per_100"]]
            for r in results
        ],
    )  # fmt: skip
    write_json("sync", {"quick": args.quick, "results": results})


if __name__ == "__main__":
    main()
