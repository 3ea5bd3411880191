"""The embedded Milvus: one ``milvus-lite server`` child per ``DATA_DIR``, shared.

Milvus Lite takes one process per data directory (a second open fails on its lock), so
the worker, the API and the demo do not each open the files: whichever starts first runs
``python -m pipeline.local.milvus_server --port P`` (Milvus Lite's gRPC server speaking
Milvus's API, with writes serialized and a clean stop: see that module)
and records it in ``DATA_DIR/run/milvus.json``; the others connect to
``http://127.0.0.1:P`` like they would to a Milvus server.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from pipeline.local.services import LocalService

# An HTTP/2 client connection preface plus an empty SETTINGS frame: a gRPC server answers
# with its own SETTINGS frame (type 0x04), which proves more than an open TCP port.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def grpc_answers(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """True when an HTTP/2 (gRPC) server on the port answers the connection preface."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(_H2_PREFACE)
            header = b""
            while len(header) < 9:
                chunk = sock.recv(9 - len(header))
                if not chunk:
                    return False
                header += chunk
            return header[3] == 0x04
    except OSError:
        return False


def local_milvus(data_dir: Path, idle_stop_s: float | None = None) -> LocalService:
    """A shared Milvus Lite server for this data directory (not started until ``ensure()``).

    Its data lives in ``DATA_DIR/milvus/lite``; one started here stops itself after
    ``idle_stop_s`` seconds without a user. ``ensure()`` raises BackendUnavailable when
    the server cannot start (its log tail is in the message).
    """

    def command(port: int, workdir: Path) -> list[str]:
        return [
            sys.executable, "-m", "pipeline.local.milvus_server",
            "--data-dir", str(workdir / "lite"),
            "--host", "127.0.0.1",
            "--port", str(port),
        ]  # fmt: skip

    return LocalService(
        name="milvus",
        data_dir=data_dir,
        command=command,
        probe=grpc_answers,
        start_timeout=90.0,  # imports pyarrow, faiss and grpc before it listens
        stop_timeout=60.0,  # it drains calls, then flushes and finishes segment writes
        idle_stop_s=idle_stop_s,
    )
