"""The Milvus standalone helper: its own ports and data, etcd on loopback only, stopped
with its whole process group, and rows kept across a stop and a restart on its files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from pipeline.local.milvus_standalone import local_milvus_standalone
from pipeline.local.services import pid_alive
from pipeline.vectors.milvus import MilvusVectorStore
from tests.vectors.test_store_contract import row

pytestmark = pytest.mark.slow


def listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                addr, port = cols[1].split(":")
                ip = ".".join(str(int(addr[i : i + 2], 16)) for i in (6, 4, 2, 0))
                found.add((ip if table == "tcp" else addr, int(port, 16)))
    return found


def test_own_ports_loopback_etcd_group_stop_and_restart(tmp_path: Path) -> None:
    service = local_milvus_standalone(tmp_path)
    try:
        port = service.ensure()
        assert service.pid is not None and os.getpgid(service.pid) == service.pid
        etcd = yaml.safe_load((service.workdir / "configs" / "etcd.yaml").read_text())
        etcd_ports = {int(etcd[k].rsplit(":", 1)[1]) for k in ("listen-client-urls",
                                                               "listen-peer-urls")}  # fmt: skip
        sockets = listening(service.pid)
        ports = {p for _, p in sockets}
        assert port in ports and etcd_ports <= ports
        assert {a for a, p in sockets if p in etcd_ports} == {"127.0.0.1"}
        assert not {2379, 2380, 19530} & ports  # the wheel's fixed defaults are not used
        store = MilvusVectorStore(f"http://127.0.0.1:{port}", timeout=30)
        store.upsert([row(i) for i in range(3)])
        store.close()
        group = service.pid
    finally:
        service.close()
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)  # nothing of its process group is left

    again = local_milvus_standalone(tmp_path)
    try:
        store = MilvusVectorStore(f"http://127.0.0.1:{again.ensure()}", timeout=30)
        assert [r.product_id for r in store.fetch(["p0", "p1", "p2"])] == ["p0", "p1", "p2"]
        assert store.layout.kind == "split"
        store.close()
    finally:
        again.close()


def test_stop_recorded_kills_a_server_whose_owner_died(tmp_path: Path) -> None:
    """An owner killed with -9 leaves its server running; the next one stops it."""
    owner = local_milvus_standalone(tmp_path)
    owner.ensure()
    pid = owner.pid
    assert pid is not None
    try:
        local_milvus_standalone(tmp_path).stop_recorded()
        assert not pid_alive(pid)
    finally:
        owner.close()  # reaps the child (it was ours); kills it if the test failed
