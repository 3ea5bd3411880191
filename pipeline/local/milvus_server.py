"""The embedded Milvus server: Milvus Lite's gRPC servicer, made safe for our writers.

``python -m milvus_lite server`` is not safe for a pipeline: its engine is single-writer
per collection (its own docs: concurrent writes "are not" safe, hardening is "a separate
phase"), while our embed and QC stages write from many threads and processes at once; a
flush racing an upsert could acknowledge a row that never reached disk. And it only shuts
down on KeyboardInterrupt, closing the database while requests are still in flight.

This runs the same servicer with every mutating call under an exclusive lock (reads share
it), and on SIGTERM or SIGINT stops accepting calls, waits for those in flight, then closes
the database. ``python -m pipeline.local.milvus_server --data-dir D --host H --port P``.
"""

from __future__ import annotations

import argparse
import functools
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
from milvus_lite.adapter.grpc.servicer import MilvusServicer
from milvus_lite.db import MilvusLite
from pymilvus.grpc_gen import milvus_pb2_grpc

WRITES = frozenset(
    """CreateCollection DropCollection Insert Upsert Delete CreateIndex DropIndex
    LoadCollection ReleaseCollection CreatePartition DropPartition Flush TruncateCollection
    CreateDatabase DropDatabase AlterDatabase RenameCollection CreateAlias AlterAlias
    DropAlias AlterCollection LoadPartitions ReleasePartitions ManualCompaction""".split()
)
_MAX_MESSAGE = 256 * 1024 * 1024  # as Milvus standalone


class SharedExclusiveLock:
    """Many readers or one writer; a waiting writer holds new readers back."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writer and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            self._cond.wait_for(lambda: not self._writer and self._readers == 0)
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def guarded_servicer(db: MilvusLite, lock: SharedExclusiveLock) -> MilvusServicer:
    """The servicer with each RPC method behind the lock (patched before registration,
    which binds the methods)."""
    servicer = MilvusServicer(db)
    for name in dir(milvus_pb2_grpc.MilvusServiceServicer):
        method = getattr(servicer, name, None)
        if name[:1].isupper() and callable(method):
            hold = lock.exclusive if name in WRITES else lock.shared
            setattr(servicer, name, _behind(method, hold))
    return servicer


def _behind(method: Callable[..., Any], hold: Callable[[], Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(request: Any, context: Any) -> Any:
        with hold():
            return method(request, context)

    return call


def serve(data_dir: str, host: str, port: int, max_workers: int = 10) -> None:
    """Serve until SIGTERM or SIGINT, then drain and close the database."""
    lock = SharedExclusiveLock()
    db = MilvusLite(data_dir)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        options=[
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
            # pymilvus pings every 10 s, also on an idle connection; gRPC's server default
            # (one ping per 5 minutes, 2 strikes) answers GOAWAY "too many pings" and the
            # next call fails UNAVAILABLE. Milvus's own servers allow pings from 5 s.
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
            ("grpc.http2.max_ping_strikes", 0),
        ],
    )
    milvus_pb2_grpc.add_MilvusServiceServicer_to_server(guarded_servicer(db, lock), server)
    server.add_insecure_port(f"{host}:{port}")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(f"milvus (lite) listening on {host}:{port}, data in {data_dir}", flush=True)  # noqa: T201
    stop.wait()
    server.stop(grace=10).wait()  # no new calls; those in flight finish
    with lock.exclusive():
        db.close()  # flushes what is in memory and finishes background segment work
    print("milvus (lite) stopped cleanly", flush=True)  # noqa: T201


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    serve(args.data_dir, args.host, args.port)


if __name__ == "__main__":
    main()
