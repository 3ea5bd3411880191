"""The embedded redis-server child: free port, PING, AOF in the data dir, no orphan."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import redis

from pipeline.local.redis import local_redis
from pipeline.local.services import pid_alive


def test_child_starts_answers_writes_aof_and_is_gone_after_close(tmp_path: Path) -> None:
    service = local_redis(tmp_path)
    port = service.ensure()
    pid = service.pid
    assert pid is not None and service.owner
    client = redis.Redis(port=port)
    assert client.ping()
    client.set("k", "v")
    client.close()
    aof = list((tmp_path / "redis").rglob("*.aof*"))
    assert aof, "append-only file expected under DATA_DIR/redis"
    service.close()
    assert not pid_alive(pid)
    assert not service.record_path.exists()


def test_two_data_dirs_do_not_collide(tmp_path: Path) -> None:
    a, b = local_redis(tmp_path / "a"), local_redis(tmp_path / "b")
    with a, b:
        assert a.port != b.port and a.pid != b.pid
        ra, rb = redis.Redis(port=a.port), redis.Redis(port=b.port)
        ra.set("who", "a")
        assert rb.get("who") is None
        ra.close()
        rb.close()


def test_second_process_reuses_and_restarts_after_death(tmp_path: Path) -> None:
    first = local_redis(tmp_path)
    port = first.ensure()
    redis.Redis(port=port).set("kept", "1")
    second = local_redis(tmp_path)
    assert second.ensure() == port and not second.owner
    second.close()  # a reuser leaves the server running
    assert first.pid is not None and pid_alive(first.pid)

    os.kill(first.pid, signal.SIGKILL)
    assert first._proc is not None
    first._proc.wait(timeout=5)
    third = local_redis(tmp_path)
    with third:
        assert third.owner and third.pid != first.pid
        # AOF (fsync every second) may lose the last second; wait once before killing next time.
        client = redis.Redis(port=third.port)
        assert client.ping()
        client.close()
