"""Embedded services shared by every process on one ``DATA_DIR``.

``catalog-sync worker``, ``serve`` and ``demo`` started on the same data directory find
one child service (a ``redis-server``, a Milvus Lite server) through a record file
``DATA_DIR/run/<name>.json`` holding its pid and port. Whoever comes first starts it
(under a file lock, so two starters cannot race), later processes reuse it after a
liveness probe, and a dead one is restarted on the same data.

Each process holds a lease while it has the service open (``pipeline/local/leases.py``),
and :meth:`LocalService.close` stops the service once nobody else uses it: the process
that started it stops it unless another process holds a lease, and otherwise the last
user to close it does. A service whose users died without closing it (killed with -9)
stops itself after ``idle_stop_s`` seconds without a user: a watchdog process
(``pipeline/local/idle_stop.py``), started beside it, watches the leases.
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
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from pipeline.errors import BackendUnavailable
from pipeline.local.leases import Leases, process_start

logger = logging.getLogger(__name__)

# The directory that holds the ``pipeline`` package: the watchdog imports it from there
# whatever the starter's working directory or PYTHONPATH.
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on the port (a server could bind it now: connections of
    a stopped one in TIME_WAIT do not count, as servers set SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def pid_alive(pid: int) -> bool:
    """True while the process runs (a zombie, exited but not reaped, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return process_start(pid) is not None or not Path("/proc/self").exists()


def run_dir(data_dir: Path) -> Path:
    """Where the records, locks and leases of a data directory's services live."""
    return data_dir / "run"


@dataclass(frozen=True)
class ServiceRecord:
    """``DATA_DIR/run/<name>.json``: the running service, as its starter wrote it."""

    name: str
    pid: int
    port: int
    watchdog: int | None = None  # the idle watchdog's pid
    idle_stop_s: float | None = None
    stop_timeout: float = 10.0
    started: float | None = None
    # Start times (pipeline/local/leases.py): a recycled pid is never taken for either.
    pid_start: int | None = None
    watchdog_start: int | None = None

    @property
    def running(self) -> bool:
        """The recorded service process still runs (not another one on a recycled pid)."""
        return _same_process(self.pid, self.pid_start)

    @property
    def watchdog_running(self) -> bool:
        return self.watchdog is not None and _same_process(self.watchdog, self.watchdog_start)


def _same_process(pid: int, start: int | None) -> bool:
    if start is None:  # a record written before start times were kept
        return pid_alive(pid)
    return process_start(pid) == start


def _optional_int(value: object) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value) else None


def read_record(data_dir: Path, name: str) -> ServiceRecord | None:
    """The record of ``name``, or None when there is none (or it cannot be read)."""
    try:
        data = json.loads((run_dir(data_dir) / f"{name}.json").read_text())
        return ServiceRecord(
            name=name,
            pid=int(data["pid"]),
            port=int(data["port"]),
            watchdog=_optional_int(data.get("watchdog")),
            idle_stop_s=float(data["idle_stop_s"]) if data.get("idle_stop_s") else None,
            stop_timeout=float(data.get("stop_timeout", 10.0)),
            started=float(data["started"]) if data.get("started") else None,
            pid_start=_optional_int(data.get("pid_start")),
            watchdog_start=_optional_int(data.get("watchdog_start")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created with its directory), across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def record_lock(data_dir: Path, name: str) -> contextlib.AbstractContextManager[None]:
    """The lock every start, stop and idle check of ``name`` takes."""
    return file_lock(run_dir(data_dir) / f"{name}.lock")


def stop_service(
    data_dir: Path,
    record: ServiceRecord,
    proc: subprocess.Popen[bytes] | None = None,
    watchdog: subprocess.Popen[bytes] | None = None,
) -> None:
    """Stop a recorded service's whole process group and its watchdog, and remove the
    record. The caller holds :func:`record_lock`; ``proc`` and ``watchdog`` are given
    when they are this process's children (so they are reaped)."""
    if record.running:
        _terminate(record.pid, record.stop_timeout, proc=proc, group=True)
    if record.watchdog is not None and record.watchdog_running and record.watchdog != os.getpid():
        _terminate(record.watchdog, 5.0, proc=watchdog, group=True)
    path = run_dir(data_dir) / f"{record.name}.json"
    current = read_record(data_dir, record.name)
    if current is None or current.pid == record.pid:
        path.unlink(missing_ok=True)


@dataclass
class LocalService:
    """A child service described by how to start it and how to tell that it answers.

    ``command(port, workdir)`` returns the argv; ``probe(port)`` returns True once the
    service answers. ``workdir`` is ``DATA_DIR/<name>``: the service keeps its data there.
    :meth:`close` asks it to stop with SIGTERM; SIGKILL follows ``stop_timeout`` later.
    ``environment(port, workdir)``, when given, adds variables to the child's environment;
    ``last_port(workdir)``, the port to start on again if it is free (a service that
    records its peers' addresses in its data).
    The child leads its own process group, and a stop signals the whole group (a
    service that forks helpers would otherwise leave them running).
    ``idle_stop_s``: a service started here stops itself after this many seconds without
    a user (None: it runs until closed or stopped).
    """

    name: str
    data_dir: Path
    command: Callable[[int, Path], Sequence[str]]
    probe: Callable[[int], bool]
    start_timeout: float = 30.0
    stop_timeout: float = 10.0
    host: str = "127.0.0.1"
    environment: Callable[[int, Path], Mapping[str, str]] | None = None
    last_port: Callable[[Path], int | None] | None = None
    idle_stop_s: float | None = None
    port: int | None = field(default=None, init=False)
    pid: int | None = field(default=None, init=False)
    owner: bool = field(default=False, init=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _watchdog: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _lease: Path | None = field(default=None, init=False, repr=False)

    @property
    def workdir(self) -> Path:
        return self.data_dir / self.name

    @property
    def record_path(self) -> Path:
        return run_dir(self.data_dir) / f"{self.name}.json"

    @property
    def leases(self) -> Leases:
        return Leases(run_dir(self.data_dir), self.name)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return record_lock(self.data_dir, self.name)

    def ensure(self) -> int:
        """Reuse the running service for this data directory or start one; returns its
        port. This process holds a lease on it until :meth:`close`.

        Raises BackendUnavailable when the service cannot be started or never answers.
        """
        with self._locked():
            record = read_record(self.data_dir, self.name)
            if record and record.running and self.probe(record.port):
                self.port, self.pid = record.port, record.pid
                logger.debug("reusing %s pid=%s port=%s", self.name, self.pid, self.port)
            else:
                if record and record.running:
                    # Alive but not answering: a hung child would hold the data dir's lock.
                    stop_service(self.data_dir, replace(record, stop_timeout=5.0))
                self._start()
            if self._lease is None:
                # Taken under the lock: the idle watchdog checks the leases under it too.
                self._lease = self.leases.take()
            assert self.port is not None
            return self.port

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        port = self.last_port(self.workdir) if self.last_port is not None else None
        if port is None or not port_free(port, self.host):
            port = free_port(self.host)
        argv = list(self.command(port, self.workdir))
        env = None
        if self.environment is not None:
            env = {**os.environ, **self.environment(port, self.workdir)}
        log_path = self.workdir / f"{self.name}.log"
        with open(log_path, "ab") as log:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=self.workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
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
            _terminate(proc.pid, timeout=5, proc=proc, group=True)
            raise BackendUnavailable(f"{self.name} did not answer within {self.start_timeout} s")
        self._proc, self.port, self.pid, self.owner = proc, port, proc.pid, True
        self._watchdog = self._start_watchdog(proc.pid, log_path)
        record = ServiceRecord(
            name=self.name,
            pid=proc.pid,
            port=port,
            watchdog=self._watchdog.pid if self._watchdog else None,
            idle_stop_s=self.idle_stop_s if self._watchdog else None,
            stop_timeout=self.stop_timeout,
            started=time.time(),
            pid_start=process_start(proc.pid),
            watchdog_start=process_start(self._watchdog.pid) if self._watchdog else None,
        )
        payload = {k: v for k, v in asdict(record).items() if k != "name"}
        self.record_path.write_text(json.dumps(payload))
        logger.debug("started %s pid=%s port=%s dir=%s", self.name, proc.pid, port, self.workdir)

    def _start_watchdog(self, pid: int, log_path: Path) -> subprocess.Popen[bytes] | None:
        """The idle watchdog (``pipeline/local/idle_stop.py``), in its own session so that
        it outlives this process; None without ``idle_stop_s`` or when it cannot start."""
        if not self.idle_stop_s:
            return None
        argv = [
            sys.executable, "-m", "pipeline.local.idle_stop",
            "--data-dir", str(self.data_dir), "--name", self.name, "--pid", str(pid),
            "--idle-s", str(self.idle_stop_s),
        ]  # fmt: skip
        path = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)
        with open(log_path, "ab") as log:
            try:
                return subprocess.Popen(
                    argv,
                    cwd=self.workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, "PYTHONPATH": path},
                    start_new_session=True,
                )
            except OSError as exc:
                logger.warning("%s will not stop itself when idle: %s", self.name, exc)
                return None

    def close(self) -> None:
        """Release this process's lease, and stop the service when nobody else uses it:
        as its starter, unless another process holds a lease; else as its last user."""
        if self._lease is None and not self.owner:
            return
        with self._locked():
            if self._lease is not None:
                self.leases.release(self._lease)
                self._lease = None
            record = read_record(self.data_dir, self.name)
            if record is not None and record.pid == self.pid:
                users = self.leases.live(prune=True)
                if self.owner:  # this process's other holders follow its starter
                    users = [u for u in users if u.pid != os.getpid()]
                if not users:
                    stop_service(self.data_dir, record, self._proc, self._watchdog)
                    logger.debug("stopped %s pid=%s", self.name, record.pid)
                elif self.owner:
                    logger.debug("leaving %s pid=%s to pids %s", self.name, record.pid,
                                 sorted({u.pid for u in users}))  # fmt: skip
        if self.owner:
            for child in (self._proc, self._watchdog):
                if child is not None:
                    child.poll()  # reaps it if someone else stopped it
            self.owner, self.pid, self._proc, self._watchdog = False, None, None, None

    def stop_recorded(self) -> None:
        """Stop the child recorded for this data directory, whoever started it: an owner
        killed with -9 leaves its child running, and nobody else would stop it."""
        with self._locked():
            record = read_record(self.data_dir, self.name)
            if record is not None:
                ours = record.pid == self.pid and self.owner
                stop_service(
                    self.data_dir,
                    record,
                    self._proc if ours else None,
                    self._watchdog if ours else None,
                )
                logger.info("stopped %s pid=%s (recorded)", self.name, record.pid)
            self.record_path.unlink(missing_ok=True)

    def __enter__(self) -> LocalService:
        self.ensure()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _terminate(
    pid: int, timeout: float, proc: subprocess.Popen[bytes] | None = None, group: bool = False
) -> None:
    """SIGTERM, wait, then SIGKILL; reaps our own child so no zombie is left. With
    ``group``, the signals go to the process group ``pid`` leads (started with
    ``start_new_session``), and what is left of the group is killed at the end."""
    send = os.killpg if group else os.kill
    with contextlib.suppress(ProcessLookupError):
        send(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        if proc is None and not pid_alive(pid):
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            send(pid, signal.SIGKILL)
        if proc is not None:
            proc.wait(timeout=5)
    if group:  # helpers of a leader that exited still hold the group id
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


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
