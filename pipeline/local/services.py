"""Embedded services shared by every process on one ``DATA_DIR``.

``catalog-sync worker``, ``serve`` and ``demo`` started on the same data directory find
one child service (a ``redis-server``, a ``milvus-lite server``) through a record file
``DATA_DIR/run/<name>.json`` holding its pid and port. Whoever comes first starts it
(under a file lock, so two starters cannot race), later processes reuse it after a
liveness probe, and a dead one is restarted on the same data. The starter owns the
child and stops it on :meth:`LocalService.close`; a reuser leaves it alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import BackendUnavailable

logger = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) answers kill(0) but serves nothing.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@dataclass
class LocalService:
    """A child service described by how to start it and how to tell that it answers.

    ``command(port, workdir)`` returns the argv; ``probe(port)`` returns True once the
    service answers. ``workdir`` is ``DATA_DIR/<name>``: the service keeps its data there.
    :meth:`close` asks it to stop with SIGTERM; SIGKILL follows ``stop_timeout`` later.
    """

    name: str
    data_dir: Path
    command: Callable[[int, Path], Sequence[str]]
    probe: Callable[[int], bool]
    start_timeout: float = 30.0
    stop_timeout: float = 10.0
    host: str = "127.0.0.1"
    port: int | None = field(default=None, init=False)
    pid: int | None = field(default=None, init=False)
    owner: bool = field(default=False, init=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def workdir(self) -> Path:
        return self.data_dir / self.name

    @property
    def record_path(self) -> Path:
        return self.data_dir / "run" / f"{self.name}.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.record_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.record_path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_record(self) -> dict[str, int] | None:
        try:
            data = json.loads(self.record_path.read_text())
            return {"pid": int(data["pid"]), "port": int(data["port"])}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def ensure(self) -> int:
        """Reuse the running service for this data directory or start one; returns its port.

        Raises BackendUnavailable when the service cannot be started or never answers.
        """
        with self._locked():
            record = self._read_record()
            if record and pid_alive(record["pid"]) and self.probe(record["port"]):
                self.port, self.pid = record["port"], record["pid"]
                logger.info("reusing %s pid=%s port=%s", self.name, self.pid, self.port)
                return self.port
            if record and pid_alive(record["pid"]):
                # Alive but not answering: a hung child would hold the data dir's lock.
                _terminate(record["pid"], timeout=5)
            self._start()
            assert self.port is not None
            return self.port

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        port = free_port(self.host)
        argv = list(self.command(port, self.workdir))
        log_path = self.workdir / f"{self.name}.log"
        with open(log_path, "ab") as log:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=self.workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # Ctrl-C in the terminal reaches us, not it
                )
            except OSError as exc:
                raise BackendUnavailable(f"cannot start {self.name} ({argv[0]}): {exc}") from exc
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise BackendUnavailable(
                    f"{self.name} exited with code {proc.returncode} at start; log tail:\n{tail}"
                )
            if self.probe(port):
                break
            time.sleep(0.05)
        else:
            _terminate(proc.pid, timeout=5)
            raise BackendUnavailable(f"{self.name} did not answer within {self.start_timeout} s")
        self._proc, self.port, self.pid, self.owner = proc, port, proc.pid, True
        self.record_path.write_text(json.dumps({"pid": proc.pid, "port": port}))
        logger.info("started %s pid=%s port=%s dir=%s", self.name, proc.pid, port, self.workdir)

    def close(self) -> None:
        """Stop the child if this process started it; a reused service is left running."""
        if not self.owner or self.pid is None:
            return
        with self._locked():
            _terminate(self.pid, self.stop_timeout, proc=self._proc)
            record = self._read_record()
            if record and record["pid"] == self.pid:
                self.record_path.unlink(missing_ok=True)
        logger.info("stopped %s pid=%s", self.name, self.pid)
        self.owner, self.pid, self._proc = False, None, None

    def stop_recorded(self) -> None:
        """Stop the child recorded for this data directory, whoever started it: an owner
        killed with -9 leaves its child running, and nobody else would stop it."""
        with self._locked():
            record = self._read_record()
            if record and pid_alive(record["pid"]):
                _terminate(record["pid"], self.stop_timeout)
                logger.info("stopped %s pid=%s (recorded)", self.name, record["pid"])
            self.record_path.unlink(missing_ok=True)

    def __enter__(self) -> LocalService:
        self.ensure()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _terminate(pid: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM, wait, then SIGKILL; reaps our own child so no zombie is left."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return
        if proc is None and not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait(timeout=5)


def tcp_answers(host: str, port: int, payload: bytes, expect: bytes, timeout: float = 0.5) -> bool:
    """True when the port accepts a connection and answers ``payload`` with ``expect``..."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if not payload:
                return True
            sock.sendall(payload)
            return sock.recv(len(expect) + 64).startswith(expect)
    except OSError:
        return False
