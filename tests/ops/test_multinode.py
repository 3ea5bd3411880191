"""Three Ray nodes on this machine (``ray.cluster_utils.Cluster``): work spreads over both
workers, and removing one mid-run loses no job. Runs in a subprocess (multinode_proc.py)
so its cluster never meets the session's shared ``ray.init``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_node_removed_mid_run_loses_no_job(
    redis_client: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.ops.multinode_proc", redis_url, str(tmp_path / "data")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    out = json.loads(lines[-1].removeprefix("RESULT "))
    a, b = out["node_a"], out["node_b"]

    # The ledger: every job completed exactly once, none dead, the books balance.
    assert out["completed"] == 40 and out["dead"] == 0 and out["waiting"] == 0
    assert out["invariants"] == []
    # Spread: both nodes' consumers did work before b went away.
    assert out["by_node"]["a"] > 0 and out["by_node"]["b"] > 0
    assert sum(out["by_node"].values()) == 40
    # b's claimed batch was reclaimed by lease and completed on a, as attempt 2.
    assert len(out["held_jobs"]) == 4
    for job in out["held_jobs"]:
        assert job == {"state": "completed", "attempt": 2, "node": "a", "errors": ["LeaseExpired"]}
    assert out["b_survived"] is False

    # Ray tasks: spread over both workers, then b's were retried on a; none lost.
    before = out["tasks_started_before_removal"]
    assert {nodes[0] for nodes in before.values() if nodes} == {a, b}
    assert len(out["task_results"]) == 8 and set(out["task_results"]) <= {a, b}
    retried = [
        starts for starts in out["task_starts"].values() if starts[0] == b and len(starts) > 1
    ]
    assert retried and all(starts[-1] == a for starts in retried)
