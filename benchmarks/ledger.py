"""Ledger throughput against RQ, arq and BullMQ's Python port, on one redis-server.

Measures, per system, the enqueue rate and the end-to-end no-op processing rate (jobs
already enqueued; one worker drains them; jobs/s from its start to the last completion).
Ours runs with every semantic on: leases, fencing tokens, events stream, per-minute
counters, durations, trimming, priorities, parent bookkeeping checks. The others run
their documented APIs, one worker each, at our batch size where they have a knob for it
(arq ``max_jobs``, BullMQ ``concurrency``; RQ processes one job at a time). Each runs in its
own virtualenv under ``benchmarks/.venvs/`` (made here: they pin different redis-py
versions). The script starts its own ``redis-server`` (append-only, like production) on a
free port and flushes it between systems.

    .venv/bin/python benchmarks/ledger.py [--quick] [--jobs N] [--batch B] [--skip-others]

Prints a table and writes ``benchmarks/results/ledger.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.ledger import JobSpec, RedisLedger  # noqa: E402
from pipeline.local.redis import local_redis  # noqa: E402
from pipeline.records import JobType  # noqa: E402
from pipeline.redis_keys import DEFAULT_NAMESPACE, RedisKeys  # noqa: E402
from pipeline.settings import JobSettings  # noqa: E402

VENVS = ROOT / "benchmarks" / ".venvs"
OTHERS = {"rq": ["rq>=2,<3"], "arq": ["arq>=0.26,<1"], "bullmq": ["bullmq>=2,<3"]}

RQ_DRIVER = """
import json, sys, time
from redis import Redis
from rq import Queue, SimpleWorker
def noop(i):
    return None
port, n = int(sys.argv[1]), int(sys.argv[2])
r = Redis(port=port)
q = Queue("bench", connection=r)
t = time.perf_counter()
for s in range(0, n, 1000):
    q.enqueue_many([Queue.prepare_data(noop, (i,)) for i in range(s, min(n, s + 1000))])
enq = n / (time.perf_counter() - t)
t = time.perf_counter()
SimpleWorker([q], connection=r).work(burst=True, logging_level="WARNING")
proc = n / (time.perf_counter() - t)
assert q.finished_job_registry.count == n, q.finished_job_registry.count
print(json.dumps({"enqueue": enq, "process": proc}))
"""

ARQ_DRIVER = """
import asyncio, json, sys, time
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker
async def noop(ctx, i):
    return None
async def main():
    port, n, batch = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    settings = RedisSettings(port=port)
    pool = await create_pool(settings)
    t = time.perf_counter()
    for s in range(0, n, 500):
        await asyncio.gather(*[pool.enqueue_job("noop", i) for i in range(s, min(n, s + 500))])
    enq = n / (time.perf_counter() - t)
    w = Worker(functions=[noop], redis_settings=settings, burst=True, max_jobs=batch,
               poll_delay=0.01, handle_signals=False)
    t = time.perf_counter()
    await w.async_run()
    proc = n / (time.perf_counter() - t)
    assert w.jobs_complete == n, w.jobs_complete
    await w.close()
    await pool.aclose()
    print(json.dumps({"enqueue": enq, "process": proc}))
asyncio.run(main())
"""

BULLMQ_DRIVER = """
import asyncio, json, sys, time
from bullmq import Queue, Worker
async def noop(job, token):
    return None
async def main():
    port, n, batch = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    conn = {"connection": f"redis://127.0.0.1:{port}"}
    queue = Queue("bench", conn)
    t = time.perf_counter()
    for s in range(0, n, 1000):
        jobs = [{"name": "noop", "data": {"i": i}} for i in range(s, min(n, s + 1000))]
        await queue.addBulk(jobs)
    enq = n / (time.perf_counter() - t)
    t = time.perf_counter()
    worker = Worker("bench", noop, {**conn, "concurrency": batch})
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        counts = await queue.getJobCounts("completed")
        if counts.get("completed", 0) >= n:
            break
        await asyncio.sleep(0.02)
    proc = n / (time.perf_counter() - t)
    await worker.close()
    await queue.close()
    print(json.dumps({"enqueue": enq, "process": proc}))
asyncio.run(main())
"""

DRIVERS = {"rq": RQ_DRIVER, "arq": ARQ_DRIVER, "bullmq": BULLMQ_DRIVER}


def ensure_venv(name: str) -> Path:
    """``benchmarks/.venvs/<name>`` with that library installed (made once)."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *OTHERS[name]], check=True, timeout=900
        )
        stamp.touch()
    return python


def run_other(name: str, port: int, n: int, batch: int) -> dict[str, Any]:
    python = ensure_venv(name)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(DRIVERS[name])
    out = subprocess.run(
        [str(python), f.name, str(port), str(n), str(batch)],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    Path(f.name).unlink()
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def spec(i: int) -> JobSpec:
    payload = {"product_id": f"p{i}", "seller_id": "bench", "content_hash": f"{i:08x}"}
    return JobSpec(JobType.QUALITY_CONTROL, payload, "bench")


def run_ours(client: redis.Redis, n: int, batch: int) -> dict[str, Any]:
    ledger = RedisLedger(client, JobSettings(), keys=RedisKeys(DEFAULT_NAMESPACE))
    specs = [spec(i) for i in range(n)]
    t = time.perf_counter()
    for s in range(0, n, 10_000):
        ledger.enqueue_many(specs[s : s + 10_000])
    enq = n / (time.perf_counter() - t)
    t = time.perf_counter()
    done = 0
    deadline = time.monotonic() + 600
    while done < n and time.monotonic() < deadline:
        claimed = ledger.claim(JobType.QUALITY_CONTROL, "bench-worker", batch)
        done += sum(ledger.complete_many([(c, None) for c in claimed]))
    proc = n / (time.perf_counter() - t)
    problems = ledger.check_invariants(deep=False)
    assert done == n and not problems, (done, problems)
    return {"enqueue": enq, "process": proc}


def run_streams(client: redis.Redis, n: int, batch: int) -> dict[str, Any]:
    """A bare Streams consumer loop (XREADGROUP + XACK): no job semantics at all."""
    client.xgroup_create("bench:stream", "g", id="0", mkstream=True)
    t = time.perf_counter()
    for s in range(0, n, 1000):
        pipe = client.pipeline(transaction=False)
        for i in range(s, min(n, s + 1000)):
            pipe.xadd("bench:stream", {"i": i})
        pipe.execute()
    enq = n / (time.perf_counter() - t)
    t = time.perf_counter()
    done = 0
    while done < n:
        reply: Any = client.xreadgroup("g", "c", {"bench:stream": ">"}, count=batch)
        ids = [entry_id for _, entries in reply for entry_id, _ in entries]
        if ids:
            client.xack("bench:stream", "g", *ids)
            done += len(ids)
    return {"enqueue": enq, "process": n / (time.perf_counter() - t)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 jobs instead of 20,000")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--skip-others", action="store_true", help="only ours and bare Streams")
    args = parser.parse_args()
    n = args.jobs or (2_000 if args.quick else 20_000)
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        service = local_redis(Path(tmp))
        port = service.ensure()
        client = redis.Redis(port=port)
        try:
            for name, run in (
                (
                    f"catalog-sync ledger (batch {args.batch})",
                    lambda: run_ours(client, n, args.batch),
                ),
                ("catalog-sync ledger (batch 1)", lambda: run_ours(client, max(n // 10, 200), 1)),
                ("bare Streams loop (no semantics)", lambda: run_streams(client, n, args.batch)),
            ):
                client.flushall()
                rows[name] = run()
            if not args.skip_others:
                for name in OTHERS:
                    client.flushall()
                    label = {
                        "rq": "RQ (SimpleWorker)",
                        "arq": f"arq (max_jobs {args.batch})",
                        "bullmq": f"BullMQ Python (concurrency {args.batch})",
                    }[name]
                    try:
                        rows[label] = run_other(name, port, n, args.batch)
                    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
                        rows[label] = {"error": str(exc)[-500:]}
        finally:
            client.close()
            service.close()
    others = [
        r["process"] for k, r in rows.items()
        if "process" in r and not k.startswith(("catalog-sync", "bare"))
    ]  # fmt: skip
    best = max(others) if others else None
    print(f"\nledger benchmark: {n:,} no-op jobs, one worker, one redis-server (AOF everysec)")
    print(f"{'system':<42} {'enqueue/s':>11} {'process/s':>11} {'vs best other':>14}")
    for name, r in rows.items():
        if "error" in r:
            print(f"{name:<42} failed: {r['error'][:60]}")
            continue
        ratio = f"{r['process'] / best:.1f}x" if best else "-"
        r["ratio_vs_best_other"] = r["process"] / best if best else None
        print(f"{name:<42} {r['enqueue']:>11,.0f} {r['process']:>11,.0f} {ratio:>14}")
    out = ROOT / "benchmarks" / "results" / "ledger.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"jobs": n, "batch": args.batch, "rows": rows}, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
