"""Embedded services a user can see and stop: commands start only what they use,
``services status|stop`` show and stop them (whole process group), a service in use
stays, and one left without users stops itself after ``EMBEDDED_IDLE_STOP_S``.

Real ``catalog-sync`` processes on embedded defaults, a real ``redis-server`` and, in
the slow test, a real Milvus Lite server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.local.leases import Leases
from pipeline.local.services import pid_alive, read_record, run_dir
from tests.cli.clirun import cli, cli_env, cli_process, wait_for

READ_ONLY = [["stats"], ["dlq", "list"], ["keys", "list"], ["sellers", "list"]]

# A process that opens an embedded service from the environment's settings and dies
# without closing it, as one killed with -9 would.
ORPHAN = """
import os, sys
from pipeline.settings import load_settings
settings = load_settings()
if sys.argv[1] == "redis":
    from pipeline.runtime import Runtime
    Runtime(settings).redis()
else:
    from pipeline.vectors.milvus import MilvusVectorStore
    MilvusVectorStore.from_settings(settings)
os._exit(0)
"""


def orphan(tmp_path: Path, name: str, **env: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", ORPHAN, name],
        env=cli_env(tmp_path, **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def group_gone(pgid: int) -> bool:
    """No process of the group is left (zombies count until init reaps them)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def processes_naming(path: Path) -> list[str]:
    """Command lines of running processes that name ``path`` (services, watchdogs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(path) in line and pid_alive(int(entry.name)):
                found.append(line)
    return found


@pytest.mark.parametrize("command", READ_ONLY, ids=lambda c: " ".join(c))
def test_a_redis_command_starts_no_milvus_and_leaves_nothing_running(
    tmp_path: Path, command: list[str]
) -> None:
    data = tmp_path / "data"
    done = cli(tmp_path, *command)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (data / "redis").is_dir()  # it did use the embedded Redis
    assert not (run_dir(data) / "milvus.json").exists()
    assert not (data / "milvus").exists()
    assert processes_naming(data) == []  # its Redis stopped with its last user


def test_status_lists_a_service_and_stop_ends_its_whole_group(tmp_path: Path) -> None:
    data = (tmp_path / "data").resolve()
    empty = cli(tmp_path, "services", "status")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.strip() == f"no embedded services are running for {data}"

    orphan(tmp_path, "redis", EMBEDDED_IDLE_STOP_S="600")
    record = read_record(data, "redis")
    assert record is not None and record.watchdog is not None
    assert pid_alive(record.pid) and pid_alive(record.watchdog)

    listed = cli(tmp_path, "services", "status", "--json")
    assert listed.returncode == 0, listed.stderr
    item = json.loads(listed.stdout)
    assert (item["name"], item["pid"], item["port"]) == ("redis", record.pid, record.port)
    assert item["memory_bytes"] > 1024 * 1024 and item["processes"] == 1
    assert item["in_use_by"] == [] and item["last_use"] <= time.time()
    assert item["idle_stop_s"] == 600 and 0 < item["stops_in_s"] <= 600
    assert item["watchdog_pid"] == record.watchdog
    table = cli(tmp_path, "services", "status").stdout
    assert "redis" in table and str(record.pid) in table and "MiB" in table

    unknown = cli(tmp_path, "services", "stop", "nosuch")
    assert unknown.returncode == 2 and "no service named nosuch (recorded: redis)" in unknown.stderr
    stopped = cli(tmp_path, "services", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped redis (pid {record.pid}, port {record.port})" in stopped.stdout
    wait_for(lambda: group_gone(record.pid), 10, "its process group to be gone")
    assert not pid_alive(record.watchdog)
    assert read_record(data, "redis") is None and processes_naming(data) == []
    again = cli(tmp_path, "services", "stop")
    assert again.stdout.strip() == f"no embedded services were running for {data}"


def test_a_running_user_keeps_redis_and_it_stops_itself_once_that_user_is_killed(
    tmp_path: Path,
) -> None:
    data = (tmp_path / "data").resolve()
    user = cli_process(tmp_path, "stats", "--watch", "--interval", "0.5",
                       EMBEDDED_IDLE_STOP_S="1")  # fmt: skip
    try:
        wait_for(lambda: bool(Leases(run_dir(data), "redis").live()), 60, "stats to use redis")
        record = read_record(data, "redis")
        assert record is not None and record.watchdog is not None
        watchdog = record.watchdog
        time.sleep(4)  # four idle times; the watchdog looks every 0.1 s
        assert pid_alive(record.pid), "stopped while in use"
        item = json.loads(cli(tmp_path, "services", "status", "--json").stdout)
        assert [u["pid"] for u in item["in_use_by"]] == [user.pid]
        assert "stats --watch" in item["in_use_by"][0]["command"]
        user.kill()  # no chance to close: its lease is left behind
        user.wait(timeout=10)
    finally:
        if user.poll() is None:
            user.kill()
    assert pid_alive(record.pid)  # the dead user's lease is noticed, then the idle time runs
    # The watchdog removes the record just after the process is gone: wait for both.
    wait_for(
        lambda: not pid_alive(record.pid) and read_record(data, "redis") is None,
        60,
        "the idle stop",
    )
    wait_for(lambda: not pid_alive(watchdog), 10, "the watchdog to exit")
    log = (data / "redis" / "redis.log").read_text()
    assert f"idle-stop: stopped redis pid={record.pid}: no process used it" in log


def test_the_starter_leaves_redis_to_a_later_user_who_stops_it_last(tmp_path: Path) -> None:
    data = (tmp_path / "data").resolve()
    leases = Leases(run_dir(data), "redis")
    first = cli_process(tmp_path, "stats", "--watch", "--interval", "0.5")
    second: subprocess.Popen[str] | None = None
    try:
        wait_for(lambda: len(leases.live()) == 1, 60, "the first user")
        record = read_record(data, "redis")
        assert record is not None
        second = cli_process(tmp_path, "stats", "--watch", "--interval", "0.5")
        wait_for(lambda: len(leases.live()) == 2, 60, "the second user")
        first.send_signal(signal.SIGINT)  # closes what it opened, as Ctrl-C does
        first.wait(timeout=30)
        assert pid_alive(record.pid), "the starter stopped redis under another user"
        assert read_record(data, "redis") == record
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)
        assert not pid_alive(record.pid), "the last user left redis running"
        assert read_record(data, "redis") is None and processes_naming(data) == []
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()


@pytest.mark.slow
def test_a_left_milvus_server_is_listed_and_stopped_with_its_group(tmp_path: Path) -> None:
    """The server the issue found still running an hour later: seen, then stopped."""
    data = (tmp_path / "data").resolve()
    orphan(tmp_path, "milvus", EMBEDDED_IDLE_STOP_S="600")
    record = read_record(data, "milvus")
    assert record is not None and pid_alive(record.pid)
    item = json.loads(cli(tmp_path, "services", "status", "--json").stdout)
    assert item["name"] == "milvus" and item["pid"] == record.pid
    assert item["memory_bytes"] > 50 * 1024 * 1024  # pyarrow, faiss and grpc loaded
    stopped = cli(tmp_path, "services", "stop", "milvus", timeout=180)
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped milvus (pid {record.pid}" in stopped.stdout
    wait_for(lambda: group_gone(record.pid), 10, "its process group to be gone")
    assert processes_naming(data) == []
    assert "milvus (lite) stopped cleanly" in (data / "milvus" / "milvus.log").read_text()


@pytest.mark.slow
def test_a_running_worker_keeps_its_services_past_the_idle_time_and_stops_them_at_exit(
    tmp_path: Path,
) -> None:
    data = (tmp_path / "data").resolve()
    worker = cli_process(tmp_path, "worker", EMBEDDED_IDLE_STOP_S="1", SIGLIP_MODEL="tiny")
    try:
        for name in ("redis", "milvus"):
            wait_for(lambda n=name: bool(Leases(run_dir(data), n).live()), 240, f"{name} up")
        time.sleep(4)  # four idle times
        items = {}
        for line in cli(tmp_path, "services", "status", "--json").stdout.splitlines():
            item = json.loads(line)
            items[item["name"]] = item
        assert sorted(items) == ["milvus", "redis"]
        for item in items.values():
            assert pid_alive(item["pid"]), item
            assert worker.pid in {u["pid"] for u in item["in_use_by"]}, item
        worker.send_signal(signal.SIGINT)  # as Ctrl-C: it hands back its jobs and closes
        assert worker.wait(timeout=120) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    for item in items.values():
        wait_for(lambda p=item["pid"]: not pid_alive(p), 60, f"{item['name']} to stop")
    assert processes_naming(data) == []
