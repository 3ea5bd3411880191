"""The multi-node scenario, run as its own process by ``test_multinode.py`` (its Ray
cluster must not meet the test session's shared ``ray.init``).

A head (no CPUs) and two worker nodes, ``a`` and ``b``, on this machine:
- one ledger consumer actor per node embeds ``generate-embedding`` jobs with the tiny
  SigLIP model (batches of 4, 2 s leases, no heartbeat); ``b``'s consumer, after a first
  batch, claims another and holds it;
- Ray tasks spread over both nodes, blocked on a Redis flag, with ``max_retries``;
- node ``b`` is removed while it holds claimed jobs and running tasks. Its tasks must be
  retried on ``a``; its claimed jobs must be reclaimed by ``a`` when their lease runs out.
Prints one JSON line with what happened; the test asserts on it.

Usage: python -m tests.ops.multinode_proc REDIS_URL DATA_DIR
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from decimal import Decimal
from typing import Any

import ray
import redis
from ray.cluster_utils import Cluster

from pipeline.ledger import JobSpec, RedisLedger
from pipeline.records import JobType, ProductRecord
from pipeline.settings import Settings
from tests.keys import KEYS

EMBED = JobType.GENERATE_EMBEDDING
JOBS = 40
TASKS = 8
LEASE_S = 2.0


class Consumer:
    """A dispatcher in miniature on one node: claim, embed with the tiny model, ack."""

    def __init__(self, settings: Settings, name: str, hold_after: int | None) -> None:
        from pipeline.embedding.local import LocalSiglipEmbedder

        self._client: redis.Redis = redis.Redis.from_url(settings.redis.url.get_secret_value())  # type: ignore[union-attr]
        self._ledger = RedisLedger(self._client, settings.jobs, keys=KEYS)
        self._embedder = LocalSiglipEmbedder.from_settings(settings)
        self._runner = asyncio.Runner()
        self._name = name
        self._hold_after = hold_after

    def ready(self) -> str:
        return str(ray.get_runtime_context().get_node_id())

    def run(self, deadline_s: float) -> int:
        done = 0
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            batch = self._ledger.claim(EMBED, self._name, 4, 200, lease_s=LEASE_S)
            if self._hold_after is not None and done >= self._hold_after and batch:
                # Announce the held batch, then hold it until this node is removed.
                self._client.set("mn:holding", json.dumps([c.job_id for c in batch]))
                time.sleep(deadline_s)
                return done
            if not batch:
                stats = self._ledger.stats(window_minutes=1).types[EMBED.value]
                if stats.waiting + stats.active + stats.delayed == 0:
                    return done
                continue
            texts = [c.payload["product"]["name"] for c in batch]
            vectors = self._runner.run(self._embedder.embed_texts(texts))
            assert len(vectors) == len(batch)
            time.sleep(0.3)  # slow enough that both consumers get work
            results = [(c, {"node": self._name, "dim": int(len(vectors[0]))}) for c in batch]
            done += sum(self._ledger.complete_many(results))
        return done


@ray.remote(max_retries=3, num_cpus=1)
def blocked_task(i: int, redis_url: str) -> str:
    """Records each start (node, attempt), then waits for the release flag."""
    client: redis.Redis = redis.Redis.from_url(redis_url)
    node = str(ray.get_runtime_context().get_node_id())
    client.rpush(f"mn:task:{i}", node)
    deadline = time.monotonic() + 120
    while not client.exists("mn:release") and time.monotonic() < deadline:
        time.sleep(0.1)
    return node


def product(i: int) -> dict[str, Any]:
    record = ProductRecord(
        product_id=ProductRecord.make_id("s1", f"r{i}"),
        seller_id="s1",
        retailer_id=f"r{i}",
        name=f"Hand painted silk scarf {i}",
        price=Decimal("30.00"),
        currency="USD",
        image_urls=(f"http://shop.example/{i}.jpg",),
        source_url="http://shop.example/c/s1",
    )
    return record.model_dump(mode="json")


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def main(redis_url: str, data_dir: str) -> dict[str, Any]:
    settings = Settings.defaults().with_overrides(
        core={"data_dir": data_dir}, redis={"url": redis_url}, siglip={"model": "tiny"}
    )
    client: redis.Redis = redis.Redis.from_url(redis_url)
    client.flushdb()  # the test hands over a database of its own
    ledger = RedisLedger(client, settings.jobs, keys=KEYS)
    ledger.enqueue_many([JobSpec(EMBED, {"product": product(i)}, "s1") for i in range(JOBS)])

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False},
    )
    try:
        cluster.add_node(num_cpus=2, resources={"node_a": 1})
        node_b = cluster.add_node(num_cpus=2, resources={"node_b": 1})
        cluster.wait_for_nodes(timeout=60)
        ray.init(address=cluster.address, log_to_driver=False)
        actor = ray.remote(num_cpus=0, max_restarts=0)(Consumer)
        a = actor.options(resources={"node_a": 0.01}).remote(settings, "a", None)
        b = actor.options(resources={"node_b": 0.01}).remote(settings, "b", 4)
        node_ids = ray.get([a.ready.remote(), b.ready.remote()], timeout=120)
        tasks = [
            blocked_task.options(scheduling_strategy="SPREAD").remote(i, redis_url)
            for i in range(TASKS)
        ]
        # The first wave (2 CPUs a node) is running, before any consumer starts.
        wait_for(lambda: started_tasks(client) >= 4, 120, "4 tasks to start")
        runs = [a.run.remote(90.0), b.run.remote(90.0)]
        # b has done a batch and now holds one; tasks are running on both nodes.
        wait_for(lambda: client.exists("mn:holding"), 90, "b to hold a batch")
        held = json.loads(client.get("mn:holding") or b"[]")
        started = {
            i: [n.decode() for n in client.lrange(f"mn:task:{i}", 0, -1)] for i in range(TASKS)
        }
        cluster.remove_node(node_b, allow_graceful=False)
        removed_at = time.time()
        b_id = node_ids[1]
        wait_for(lambda: not node_alive(b_id), 60, "the GCS to see node b dead")
        client.set("mn:release", "1")
        finished_nodes = ray.get(tasks, timeout=120)
        done_a = ray.get(runs[0], timeout=120)
        try:
            ray.get(runs[1], timeout=30)
            b_survived = True
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            b_survived = False
        starts = {
            i: [n.decode() for n in client.lrange(f"mn:task:{i}", 0, -1)] for i in range(TASKS)
        }
        jobs = [ledger.get(job_id) for job_id in held]
        stats = ledger.stats(window_minutes=5).types[EMBED.value]
        by_node: dict[str, int] = {}
        for job in ledger_completed(ledger, client):
            node = (job.result or {}).get("node", "?")
            by_node[node] = by_node.get(node, 0) + 1
        return {
            "node_a": node_ids[0],
            "node_b": node_ids[1],
            "tasks_started_before_removal": started,
            "task_starts": starts,
            "task_results": finished_nodes,
            "held": held,
            "held_jobs": [
                {
                    "state": j.state.value,
                    "attempt": j.attempt,
                    "node": (j.result or {}).get("node"),
                    "errors": [(e.get("error") or {}).get("type") for e in j.errors],
                }
                for j in jobs
                if j is not None
            ],
            "completed": stats.completed,
            "dead": stats.dead,
            "waiting": stats.waiting + stats.active + stats.delayed,
            "by_node": by_node,
            "done_a": done_a,
            "b_survived": b_survived,
            "invariants": ledger.check_invariants(),
            "reclaimed_after_s": time.time() - removed_at,
        }
    finally:
        ray.shutdown()
        cluster.shutdown()


def node_alive(node_id: str) -> bool:
    return any(n["NodeID"] == node_id and n["Alive"] for n in ray.nodes())


def started_tasks(client: redis.Redis) -> int:
    return sum(1 for i in range(TASKS) if client.exists(f"mn:task:{i}"))


def ledger_completed(ledger: RedisLedger, client: redis.Redis) -> list[Any]:
    ids = client.zrange(ledger.keys.done(EMBED.value), 0, -1)
    return [j for j in (ledger.get(raw.decode()) for raw in ids) if j is not None]


if __name__ == "__main__":
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    print("RESULT " + json.dumps(main(sys.argv[1], sys.argv[2])), flush=True)
