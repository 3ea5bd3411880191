"""Our Milvus Lite server (``pipeline.local.milvus_server``): many threads writing at once
lose nothing across a stop and restart, and its lock keeps a writer alone."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from pipeline.local.milvus import local_milvus
from pipeline.local.milvus_server import SharedExclusiveLock
from pipeline.vectors.base import VectorRow
from pipeline.vectors.milvus import MilvusVectorStore


def vec(i: int) -> np.ndarray:
    v = np.random.default_rng(i).standard_normal(768).astype(np.float32)
    return v / np.linalg.norm(v)


def rows(start: int, count: int) -> list[VectorRow]:
    return [
        VectorRow(f"p{i}", "s1", "pending", 1.0, "USD", vec(i), vec(10**6 + i), "ab12", time.time())
        for i in range(start, start + count)
    ]


def test_concurrent_writers_lose_nothing_across_a_restart(tmp_path: Path) -> None:
    service = local_milvus(tmp_path)
    uri = f"http://127.0.0.1:{service.ensure()}"
    acked: list[str] = []
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        store = MilvusVectorStore(uri, lite=True, timeout=30)
        try:
            for batch in range(12):
                written = rows(n * 1000 + batch * 4, 4)
                store.upsert(written)
                store.flush()  # what a stage does before it acks
                store.set_status([written[0].product_id], "approved")  # QC's re-upsert
                store.flush()
                acked.extend(r.product_id for r in written)
        except BaseException as exc:  # reported below, with what was acked
            errors.append(exc)
        finally:
            store.close()

    try:
        MilvusVectorStore(uri, lite=True, timeout=30).close()  # create the collection once
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert errors == []
    finally:
        service.close()  # SIGTERM: drain, flush, close

    again = local_milvus(tmp_path)
    try:
        store = MilvusVectorStore(f"http://127.0.0.1:{again.ensure()}", lite=True, timeout=30)
        found = {r.product_id: r.status for r in store.fetch(acked)}
        store.close()
        assert sorted(found) == sorted(acked), f"{len(set(acked) - set(found))} rows lost"
        assert len(found) == 6 * 12 * 4
    finally:
        again.close()


def test_a_writer_waits_for_readers_and_holds_new_ones_back() -> None:
    lock = SharedExclusiveLock()
    events: list[str] = []
    with lock.shared():
        writer = threading.Thread(target=lambda: _hold(lock, events))
        writer.start()
        time.sleep(0.1)
        assert events == []  # the writer waits for the reader
        late_reader = threading.Thread(target=lambda: _read(lock, events))
        late_reader.start()
        time.sleep(0.1)
        assert events == []  # a new reader waits behind the waiting writer
    writer.join(timeout=5)
    late_reader.join(timeout=5)
    assert events == ["write", "read"]


def _hold(lock: SharedExclusiveLock, events: list[str]) -> None:
    with lock.exclusive():
        events.append("write")
        time.sleep(0.05)


def _read(lock: SharedExclusiveLock, events: list[str]) -> None:
    with lock.shared():
        events.append("read")


def test_a_client_pinging_an_idle_connection_is_not_cut_off(tmp_path: Path) -> None:
    """pymilvus keeps its connection alive with pings, also while idle; a server that
    counts them as abuse answers GOAWAY "too many pings" and fails the next call. Here
    the client pings every 0.2 s (pymilvus: 10 s) so that the test takes seconds (the
    old server failed the second call each time)."""
    import grpc
    from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

    service = local_milvus(tmp_path)
    options = [
        ("grpc.keepalive_time_ms", 200),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]
    channel = grpc.insecure_channel(f"127.0.0.1:{service.ensure()}", options=options)
    try:
        stub = milvus_pb2_grpc.MilvusServiceStub(channel)
        for _ in range(3):  # the cut comes at a moment of its own: several chances
            assert stub.GetVersion(milvus_pb2.GetVersionRequest(), timeout=10).version
            time.sleep(3.0)  # idle, pinging
    finally:
        channel.close()
        service.close()
