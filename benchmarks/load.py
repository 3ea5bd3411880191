"""Load: many sellers' sync requests over HTTP at once, the pipeline saturated, and what
it costs; worker scaling over 1, 2 and 4 ``catalog-sync worker`` processes.

Per worker count, on fresh private services (a ``redis-server``, a Milvus Lite server,
one local Ray cluster shared by the worker processes, the API served by uvicorn on
loopback): every seller of a generated sample site asks for a sync at the same moment
(one API key each), then the benchmark samples queue depth and completions every 0.5 s
and probes the API (search and health) while the workers drain the queues. Reported:
throughput per job type, p50/p99 job latency (enqueue to completion), the API's p99 under
load, Redis memory per 1,000 jobs, a PNG of depth and throughput over time, and the
throughput ratio per added worker. At the end every job must be in one final state
(``catalog-sync stats --check``), counts must add up and no product may be indexed twice;
the script exits 1 otherwise.

    .venv/bin/python benchmarks/load.py --quick                      # CI size
    .venv/bin/python benchmarks/load.py --sellers 1000 --products 33 --workers 1,2,4

(the full size: 1,000 concurrent sync requests and ~100,000 jobs across the five types).
Writes ``benchmarks/results/load.json`` and ``benchmarks/results/load-<W>w.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import ray
import redis
import uvicorn
from _common import RESULTS, generated_seller, line_plot, print_table, quantile, write_json

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.keyword.factory import open_keyword_index
from pipeline.ledger import RedisLedger
from pipeline.local.milvus import local_milvus
from pipeline.local.redis import local_redis
from pipeline.local.services import free_port
from pipeline.products import RedisProductStore
from pipeline.records import JobType
from pipeline.redis_keys import DEFAULT_NAMESPACE, RedisKeys
from pipeline.runtime import Runtime
from pipeline.sample_site.catalog import SampleCatalog
from pipeline.sample_site.server import SampleSite
from pipeline.search_setup import EmbedderQueryEncoder
from pipeline.settings import Settings
from pipeline.vectors.milvus import MilvusVectorStore
from serve.app import build_deps, create_api

TYPES = [t.value for t in JobType]
ADMIN = "load-admin-key-0123456789abcdef"


def worker_env(settings: Settings, ray_address: str) -> dict[str, str]:
    return {
        **os.environ,
        **settings.environment(),
        "RAY_ADDRESS": ray_address,
        "RAY_USAGE_STATS_ENABLED": "0",
        "LOG_LEVEL": "WARNING",
    }


class Api:
    """The FastAPI app under uvicorn on a loopback port, on its own thread."""

    def __init__(self, settings: Settings) -> None:
        self.embedder = LocalSiglipEmbedder.from_settings(settings)
        self.deps = build_deps(settings, EmbedderQueryEncoder(self.embedder), Runtime(settings))
        self.port = free_port()
        config = uvicorn.Config(
            create_api(self.deps), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Api:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


async def fire_syncs(base: str, site: SampleSite, keys: dict[str, str]) -> list[float]:
    """Every seller's sync request at once; returns each request's latency (s)."""
    limits = httpx.Limits(max_connections=len(keys))
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def one(seller: str) -> float:
            started = time.perf_counter()
            resp = await client.post(
                f"/v1/sellers/{seller}/sync",
                json={"catalog_url": f"{site.base_url}/feed/{seller}.jsonl"},
                headers={"Authorization": f"Bearer {keys[seller]}"},
            )
            if resp.status_code != 202:
                raise RuntimeError(f"sync of {seller}: {resp.status_code} {resp.text[:200]}")
            return time.perf_counter() - started

        return list(await asyncio.gather(*(one(s) for s in keys)))


def probe_api(base: str, stop: threading.Event, out: list[float]) -> None:
    """Search and health requests while the pipeline is saturated (latency in ms)."""
    words = ["red mug", "linen scarf", "glass vase", "wooden toy", "silk dress"]
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get("/v1/search", params={"q": random.choice(words)})
            client.get("/healthz", headers={"x-probe": "1"})
            out.append((time.perf_counter() - started) * 1000 / 2)
            time.sleep(0.2)


def sample(ledger: RedisLedger, start: float) -> dict[str, Any]:
    stats = ledger.stats(window_minutes=1).types
    return {
        "t": time.monotonic() - start,
        "depth": {t: s.waiting + s.delayed + s.active for t, s in stats.items()},
        "completed": {t: s.completed + s.dead for t, s in stats.items()},
    }


def job_latencies(ledger: RedisLedger, client: redis.Redis, limit: int) -> dict[str, list[float]]:
    """Enqueue-to-finish seconds per type, from up to ``limit`` finished jobs per type."""
    out: dict[str, list[float]] = {}
    for t in TYPES:
        done: Any = client.zrange(ledger.keys.done(t), 0, -1)
        ids = [i.decode() for i in done]
        random.Random(1).shuffle(ids)
        values = []
        for job_id in ids[:limit]:
            job = ledger.get(job_id)
            if job is not None and job.finished_at and job.created_at:
                values.append(job.finished_at - job.created_at)
        out[t] = values
    return out


def _used_memory(client: redis.Redis) -> int:
    info: Any = client.info("memory")
    return int(info["used_memory"])


def run(workers: int, sellers: list[str], per_seller: int, tmp: Path, out: Path) -> dict[str, Any]:
    data = tmp / f"w{workers}"
    redis_service = local_redis(data)
    url = f"redis://127.0.0.1:{redis_service.ensure()}/0"
    catalog = SampleCatalog([generated_seller(s, per_seller) for s in sellers])
    procs: list[subprocess.Popen[bytes]] = []
    with SampleSite(catalog=catalog) as site:
        settings = Settings().with_overrides(
            core={"data_dir": data},
            redis={"url": url},
            siglip={"model": "tiny", "cpus_per_replica": 0.25},
            jobs={"timeout": 120},
            api={"admin_key": ADMIN, "rate_limit_per_minute": 6000},
            # One loopback host stands in for every seller's host: lift the politeness limit.
            catalog={
                "allowed_hosts": (site.netloc,),
                "per_host_rate": 10_000.0,
                "per_host_concurrency": 64,
            },
        )
        client = redis.Redis.from_url(url)
        ledger = RedisLedger(client, settings.jobs, keys=RedisKeys(DEFAULT_NAMESPACE))
        api = Api(settings).start()
        base = f"http://127.0.0.1:{api.port}"
        address = ray.get_runtime_context().gcs_address
        exe = str(Path(sys.executable).with_name("catalog-sync"))
        for n in range(workers):
            log = open(data / f"worker-{n}.log", "ab")  # noqa: SIM115 - closed with the process
            procs.append(
                subprocess.Popen(
                    [exe, "worker"],
                    env=worker_env(settings, address),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            )
        try:
            deadline = time.monotonic() + 600
            while len({c.name for c in ledger.stats().consumers}) < workers:
                if time.monotonic() > deadline:
                    raise TimeoutError("workers did not start")
                time.sleep(0.5)
            keys = {s: api.deps.keys.create(seller_id=s) for s in sellers}
            memory_before = _used_memory(client)
            start = time.monotonic()
            request_s = asyncio.run(fire_syncs(base, site, keys))
            stop = threading.Event()
            probes: list[float] = []
            prober = threading.Thread(target=probe_api, args=(base, stop, probes), daemon=True)
            prober.start()
            samples = []
            deadline = time.monotonic() + 3600
            while time.monotonic() < deadline:
                samples.append(sample(ledger, start))
                if sum(samples[-1]["depth"].values()) == 0 and samples[-1]["t"] > 1:
                    break
                time.sleep(0.5)
            elapsed = time.monotonic() - start
            stop.set()
            prober.join(30)
            memory_after = _used_memory(client)
            stats = ledger.stats().types
            created = sum(s.created for s in stats.values())
            check = subprocess.run(
                [exe, "stats", "--check"], env=worker_env(settings, address),
                capture_output=True, timeout=300,
            )  # fmt: skip
            products = RedisProductStore(client, RedisKeys(DEFAULT_NAMESPACE))
            live = sum(products.seller_counts(s)["live"] for s in sellers)
            keywords = open_keyword_index(settings, writable=False)
            keywords.refresh()
            indexed = keywords.count()
            keywords.close()
            vectors = MilvusVectorStore.from_settings(settings)
            vector_rows = vectors.count()
            vectors.close()
            latencies = job_latencies(ledger, client, 2000)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(120)
                except subprocess.TimeoutExpired:
                    proc.kill()
            api.stop()
            asyncio.run(api.deps.aclose())
            asyncio.run(api.embedder.aclose())
            client.close()
    redis_service.close()
    local_milvus(data).close()
    series = {f"depth {t}": [(s["t"], float(s["depth"].get(t, 0))) for s in samples] for t in TYPES}
    for t in ("generate-embedding", "index-product"):
        points = []
        for a, b in zip(samples, samples[1:], strict=False):
            rate = (b["completed"].get(t, 0) - a["completed"].get(t, 0)) / max(
                1e-3, b["t"] - a["t"]
            )
            points.append((b["t"], rate))
        series[f"{t} jobs/s"] = points
    plot = out / f"load-{workers}w.png"
    line_plot(plot, series, f"{workers} worker(s): queue depth and throughput")
    expected = len(sellers) * per_seller
    sound = {
        "stats_check_ok": check.returncode == 0,
        "stats_check_output": check.stdout.decode()[-500:],
        "all_final": all(s.waiting + s.delayed + s.active == 0 for s in stats.values()),
        "live": live,
        "expected_live": expected,
        "keyword_docs": indexed,
        "vector_rows": vector_rows,
        "no_product_indexed_twice": indexed == live == vector_rows,
    }
    return {
        "workers": workers,
        "sellers": len(sellers),
        "products": expected,
        "jobs": created,
        "seconds": round(elapsed, 1),
        "sync_request_p50_ms": quantile(request_s, 0.5) * 1000,
        "sync_request_p99_ms": quantile(request_s, 0.99) * 1000,
        "api_p50_ms_saturated": quantile(probes, 0.5),
        "api_p99_ms_saturated": quantile(probes, 0.99),
        "jobs_per_s": {t: stats[t].completed / elapsed for t in TYPES if t in stats},
        "job_latency_p50_s": {t: quantile(v, 0.5) for t, v in latencies.items()},
        "job_latency_p99_s": {t: quantile(v, 0.99) for t, v in latencies.items()},
        "redis_bytes_per_1000_jobs": (memory_after - memory_before) / max(1, created) * 1000,
        "dead": {t: stats[t].dead for t in TYPES if t in stats},
        "plot": str(plot),
        "invariants": sound,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="20 sellers x 5 products, 1 and 2 workers"
    )
    parser.add_argument("--sellers", type=int, default=1000)
    parser.add_argument("--products", type=int, default=33)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="JSON and PNG go here")
    args = parser.parse_args()
    sellers_n, per_seller = (20, 5) if args.quick else (args.sellers, args.products)
    counts = [int(w) for w in args.workers.split(",")]
    if args.quick and args.workers == "1,2,4":
        counts = [1, 2]
    sellers = [f"4{n:010d}" for n in range(sellers_n)]
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            for w in counts:
                results.append(run(w, sellers, per_seller, Path(tmp), args.results_dir))
                print(f"  {w} worker(s): {results[-1]['seconds']} s", flush=True)
    finally:
        ray.shutdown()
    base = sum(results[0]["jobs_per_s"].values())
    rows = []
    for r in results:
        total = sum(r["jobs_per_s"].values())
        rows.append(
            [r["workers"], r["sellers"], r["jobs"], r["seconds"], total, total / base,
             r["job_latency_p50_s"].get("index-product"),
             r["job_latency_p99_s"].get("index-product"),
             r["sync_request_p99_ms"], r["api_p99_ms_saturated"], r["redis_bytes_per_1000_jobs"],
             r["invariants"]["stats_check_ok"] and r["invariants"]["no_product_indexed_twice"]]
        )  # fmt: skip
    print_table(
        "load: concurrent syncs over HTTP, one run on a shared 2-core machine",
        ["workers", "sellers", "jobs", "seconds", "jobs/s", "vs 1 worker", "index p50 s",
         "index p99 s", "sync POST p99 ms", "API p99 ms (saturated)", "Redis B/1k jobs",
         "invariants ok"],
        rows,
    )  # fmt: skip
    per_type = [[r["workers"]] + [r["jobs_per_s"].get(t, 0.0) for t in TYPES] for r in results]
    print_table("jobs/s per type", ["workers", *TYPES], per_type)
    write_json("load", {"quick": args.quick, "results": results}, args.results_dir)
    ok = all(
        r["invariants"]["stats_check_ok"]
        and r["invariants"]["all_final"]
        and r["invariants"]["no_product_indexed_twice"]
        and r["invariants"]["live"] == r["invariants"]["expected_live"]
        for r in results
    )
    if not ok:
        print("INVARIANTS BROKEN: see benchmarks/results/load.json", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
