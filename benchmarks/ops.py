"""What observability costs: a Prometheus scrape, the alert check, a dashboard sample and
refresh, search-timing records, and the autoscaler's decision, against ledgers of
different sizes on one redis-server (started here, append-only like production).

Each figure is the median (and p99) of repeated calls in this process, over a ledger
holding N waiting jobs spread over the five types and 100 syncs in flight. The ratio
column compares each call with one bare ``ledger.stats()``, the read they all build on.

    .venv/bin/python benchmarks/ops.py [--quick] [--sizes 1000,10000] [--repeat R]

Prints a table and writes ``benchmarks/results/ops.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prometheus_client import generate_latest  # noqa: E402

from pipeline.ledger import JobSpec, RedisLedger  # noqa: E402
from pipeline.local.redis import local_redis  # noqa: E402
from pipeline.ops import alerts  # noqa: E402
from pipeline.ops.autoscaler import ScalePolicy, ScaleState, decide  # noqa: E402
from pipeline.ops.ledgerview import sync_rows  # noqa: E402
from pipeline.ops.metrics import api_registry  # noqa: E402
from pipeline.ops.timeseries import LedgerSampler, SearchTimings  # noqa: E402
from pipeline.records import JobType  # noqa: E402
from pipeline.redis_keys import DEFAULT_NAMESPACE, RedisKeys  # noqa: E402
from pipeline.settings import JobSettings, OpsSettings  # noqa: E402


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()  # warm: scripts loaded, connections open
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": statistics.median(samples),
        "p99_ms": samples[min(len(samples) - 1, int(0.99 * len(samples)))],
    }


def fill(ledger: RedisLedger, n: int) -> None:
    types = [JobType.QUALITY_CONTROL, JobType.INDEX_PRODUCT]
    specs = []
    for i in range(n):
        seller = f"s{i % 50}"
        payload = {"product_id": f"{seller}:p{i}", "seller_id": seller, "content_hash": "ab" * 8}
        specs.append(JobSpec(types[i % 2], payload, seller))
    for i in range(100):
        payload = {"seller_id": f"s{i}", "catalog_url": f"http://shop.example/c/{i}"}
        specs.append(JobSpec(JobType.SYNC_SELLER, payload, f"s{i}"))
    for start in range(0, len(specs), 1000):
        ledger.enqueue_many(specs[start : start + 1000])


def run_size(client: redis.Redis, n: int, repeat: int) -> dict[str, Any]:
    client.flushdb()
    ledger = RedisLedger(client, JobSettings(), keys=RedisKeys(DEFAULT_NAMESPACE))
    fill(ledger, n)
    ops = OpsSettings()
    registry, _ = api_registry(ledger, client)
    sampler = LedgerSampler(ledger, client, interval_s=0.001, keep=720)
    now = time.time()
    rows = {
        "ledger.stats() (baseline)": timed(lambda: ledger.stats(window_minutes=10), repeat),
        "GET /metrics body (ledger collector)": timed(lambda: generate_latest(registry), repeat),
        "alert check (4 rules)": timed(lambda: alerts.check(ledger, client, ops), repeat),
        "dashboard sample (take)": timed(sampler.take, repeat),
        "dashboard syncs (30 rows)": timed(lambda: sync_rows(ledger, client, now), repeat),
    }
    base = rows["ledger.stats() (baseline)"]["p50_ms"]
    for row in rows.values():
        row["x_stats"] = row["p50_ms"] / base if base else float("nan")
    return rows


def search_timings(url: str, repeat: int) -> dict[str, Any]:
    timings = SearchTimings(RedisKeys("bench"))
    sync_client: redis.Redis = redis.Redis.from_url(url)

    async def main() -> list[float]:
        client = aredis.Redis.from_url(url)
        out = []
        for i in range(repeat):
            started = time.perf_counter()
            await timings.record(client, "text", 3.2, i % 2 == 0)
            out.append((time.perf_counter() - started) * 1000)
        await client.aclose()
        return out

    records = sorted(asyncio.run(main()))
    summary = timed(lambda: timings.summary(sync_client, time.time()), repeat)
    sync_client.close()
    return {
        "record (one pipelined round trip)": {"p50_ms": statistics.median(records)},
        "summary over 2,000 timings": summary,
    }


def decide_cost(repeat: int) -> float:
    policy = ScalePolicy()
    state = ScaleState()
    backlog = {t.value: 1000 for t in JobType}
    started = time.perf_counter()
    for i in range(repeat):
        state = decide(backlog, state, policy, float(i))
    return (time.perf_counter() - started) / repeat * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 jobs, 20 repeats")
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    sizes = [1000] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeat = 20 if args.quick else args.repeat
    results: dict[str, Any] = {"sizes": {}, "repeat": repeat}
    with tempfile.TemporaryDirectory() as tmp:
        service = local_redis(Path(tmp))
        service.ensure()
        try:
            url = f"redis://127.0.0.1:{service.port}/0"
            client: redis.Redis = redis.Redis.from_url(url)
            for n in sizes:
                results["sizes"][str(n)] = run_size(client, n, repeat)
            client.flushdb()
            results["search_timings"] = search_timings(url, max(repeat, 2000))
            client.close()
        finally:
            service.close()
    results["decide_us"] = decide_cost(100_000)

    print(f"{'call':40} {'waiting jobs':>12} {'p50 ms':>9} {'p99 ms':>9} {'x stats()':>9}")
    for n, rows in results["sizes"].items():
        for name, row in rows.items():
            print(
                f"{name:40} {int(n):>12,} {row['p50_ms']:>9.2f} {row['p99_ms']:>9.2f}"
                f" {row['x_stats']:>9.2f}"
            )
    for name, row in results["search_timings"].items():
        print(f"{'search timing: ' + name:40} {'-':>12} {row['p50_ms']:>9.3f}")
    print(f"{'autoscaler decide()':40} {'-':>12} {results['decide_us'] / 1000:>9.4f}")
    out = ROOT / "benchmarks" / "results" / "ops.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
