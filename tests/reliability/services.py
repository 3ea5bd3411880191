"""Services a crash test owns (so it may kill them): ``redis-server``, Milvus Lite and a
Milvus standalone server on a fixed port and directory, restartable on the same files;
generated sellers; and the bounded wait every crash test uses."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipeline.local.milvus import grpc_answers, local_milvus
from pipeline.local.milvus_standalone import local_milvus_standalone
from pipeline.local.redis import local_redis
from pipeline.local.services import free_port, tcp_answers
from pipeline.sample_site.catalog import SampleProduct, SampleSeller


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll until ``predicate()`` is truthy; AssertionError naming ``what`` past the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class OwnedService:
    """A child service at one port and directory: ``kill(sig)`` then ``start()`` again."""

    def __init__(self, kind: str, data_dir: Path) -> None:
        factories = {
            "redis": local_redis,
            "milvus": local_milvus,
            "milvus-standalone": local_milvus_standalone,
        }
        self._service = factories[kind](data_dir)
        self.kind = kind
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def answers(self) -> bool:
        if self.kind == "redis":
            return tcp_answers("127.0.0.1", self.port, b"PING\r\n", b"+PONG")
        return grpc_answers(self.port)

    def start(self, timeout: float = 120.0) -> OwnedService:
        workdir = self._service.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        argv = list(self._service.command(self.port, workdir))
        env = None
        if self._service.environment is not None:
            env = {**os.environ, **self._service.environment(self.port, workdir)}
        with open(workdir / f"{self.kind}.log", "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self.answers, timeout, f"{self.kind} to answer on {self.port}", 0.1)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the service's whole process group (it leads one) and wait for it."""
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # whatever is left of the group
            self.proc.wait(timeout=10)
        self.proc = None

    def stop_cleanly(self) -> None:
        """SIGTERM: the service drains and closes its files (not a crash)."""
        self.kill(signal.SIGTERM)

    def pause(self) -> None:
        """SIGSTOP: the server hangs (no answers, connections stay open), data intact."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.kill(signal.SIGTERM)


def generated_seller(phone: str, count: int) -> SampleSeller:
    """A seller of ``count`` plain goods (none broken, none against policy)."""
    products = []
    for i in range(count):
        digest = hashlib.sha256(f"{phone}:{i}".encode()).digest()
        products.append(
            SampleProduct(
                retailer_id=f"g{phone[-4:]}-{i:05d}",
                name=f"Handmade item {digest.hex()[:6]} number {i}",
                description=f"A generated product of seller {phone}, batch {digest[0]}.",
                price=Decimal(5 + digest[1] % 90),
                currency="USD",
            )
        )
    return SampleSeller(phone, f"Seller {phone}", "USD", products)
