"""Real processes against real redis-servers: a consumer killed mid-batch, several
consumers racing on 10,000 jobs, and redis-server killed with -9 and restarted on its AOF."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from pipeline.ledger import ClaimedJob, RedisLedger
from pipeline.local.redis import local_redis
from pipeline.records import JobState, JobType
from pipeline.settings import JobSettings
from tests.keys import KEYS
from tests.ledger.conftest import qc_spec
from tests.ledger.consumer_proc import DONE_LOG

QC = JobType.QUALITY_CONTROL
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def consumer(mode: str, url: str, name: str, **opts: object) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "tests.ledger.consumer_proc", mode, "--url", url, "--name", name]
    for key, value in opts.items():
        argv += [f"--{key}", str(value)]
    out = subprocess.PIPE if mode == "hold" else subprocess.DEVNULL
    return subprocess.Popen(argv, cwd=ROOT, stdout=out, text=True)


def reap(proc: subprocess.Popen[str], timeout: float = 60) -> int:
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_killed_consumer_jobs_are_reclaimed_once(redis_client: redis.Redis, redis_url: str) -> None:
    ledger = RedisLedger(redis_client, JobSettings(), keys=KEYS)
    jobs = ledger.enqueue_many([qc_spec(i) for i in range(50)])
    holder = consumer("hold", redis_url, "doomed", batch=20, lease=1.0)
    assert holder.stdout is not None
    held = []
    for line in holder.stdout:  # bounded: the holder prints HELD within its 5 s block
        if line.strip() == "HELD":
            break
        held.append(json.loads(line))
    assert len(held) == 20
    os.kill(holder.pid, signal.SIGKILL)
    reap(holder)

    drainer = consumer("drain", redis_url, "survivor", batch=16, total=50, timeout=60)
    assert reap(drainer) == 0
    log = [i.decode() for i in redis_client.lrange(DONE_LOG, 0, -1)]
    assert Counter(log) == Counter(j.id for j in jobs)  # none lost, none completed twice
    for entry in held:
        job = ledger.get(entry["job_id"])
        assert job is not None and job.state == JobState.COMPLETED and job.attempt == 2
        assert job.errors[0]["error"]["type"] == "LeaseExpired"
        assert job.errors[0]["consumer"] == "doomed"
        stale = ClaimedJob(
            job_id=entry["job_id"], type=QC, payload={}, seller_id="s1", parent_id=None,
            attempt=entry["attempt"], token=entry["token"], max_attempts=3,
            consumer="doomed", claimed_at=0.0,
        )  # fmt: skip
        assert not ledger.complete(stale, {"late": True})  # the dead attempt's token is fenced
        after = ledger.get(entry["job_id"])
        assert after is not None and after.result == {"by": "survivor"}
    assert ledger.check_invariants() == []


def test_consumer_processes_complete_10000_jobs_exactly_once(
    redis_client: redis.Redis, redis_url: str
) -> None:
    ledger = RedisLedger(redis_client, JobSettings(), keys=KEYS)
    jobs = ledger.enqueue_many([qc_spec(i) for i in range(10_000)])
    procs = [
        consumer("drain", redis_url, f"c{i}", batch=100, total=10_000, timeout=120)
        for i in range(4)
    ]
    codes = [reap(p, timeout=150) for p in procs]
    assert codes == [0, 0, 0, 0]
    log = [i.decode() for i in redis_client.lrange(DONE_LOG, 0, -1)]
    assert len(log) == 10_000 and set(log) == {j.id for j in jobs}
    stats = ledger.stats().types[QC]
    assert (stats.completed, stats.waiting, stats.active) == (10_000, 0, 0)
    by = Counter(
        json.loads(r)["by"] for r in _results(redis_client, ledger, [j.id for j in jobs[::97]])
    )
    assert len(by) >= 2  # the work really was shared
    assert ledger.check_invariants() == []


def _results(client: redis.Redis, ledger: RedisLedger, ids: list[str]) -> list[str]:
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(ledger.keys.job(job_id), "result")
    return [r.decode() for r in pipe.execute()]


def test_redis_kill_9_and_aof_restart_loses_nothing_enqueued(tmp_path: Path) -> None:
    service = local_redis(tmp_path)
    port = service.ensure()
    acked: list[str] = []
    stop = threading.Event()

    def produce() -> None:
        client = redis.Redis(port=port, socket_timeout=5)
        producer = RedisLedger(client, JobSettings(), keys=KEYS)
        n = 0
        while not stop.is_set():
            try:
                batch = producer.enqueue_many([qc_spec(n + i) for i in range(200)])
            except redis.RedisError:
                return
            acked.extend(j.id for j in batch)  # only what Redis acknowledged
            n += 200

    thread = threading.Thread(target=produce)
    try:
        thread.start()
        deadline = time.monotonic() + 30
        while len(acked) < 5_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert service.pid is not None
        os.kill(service.pid, signal.SIGKILL)  # mid-load: the producer is still writing
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert service._proc is not None
        service._proc.wait(timeout=10)
        assert len(acked) >= 5_000

        new_port = service.ensure()  # same directory: replays the append-only file
        client = redis.Redis(port=new_port)
        ledger = RedisLedger(client, JobSettings(), keys=KEYS)
        pipe = client.pipeline(transaction=False)
        for job_id in acked:
            pipe.exists(ledger.keys.job(job_id))
        assert all(pipe.execute()), "an acknowledged job was lost"
        assert ledger.check_invariants() == []
        assert ledger.stats().types[QC].waiting >= len(acked)
        client.close()
    finally:
        stop.set()
        thread.join(timeout=30)
        service.close()
