"""Who uses an embedded service, and since when nobody has.

Every process that reaches a service through :meth:`LocalService.ensure` holds a lease,
a file ``DATA_DIR/run/<name>.leases/<pid>-<token>``, until it closes the service. A lease
counts while its process lives (the pid and the process's start time both match, so a
recycled pid does not keep a service alive); a process killed with -9 leaves a stale one
behind, which the next reader removes. ``DATA_DIR/run/<name>.used`` is touched on each
take and release: its modification time is the service's last use.

Standard library only: the idle watchdog (``pipeline.local.idle_stop``) imports this.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


def process_start(pid: int) -> int | None:
    """When the process started (clock ticks after boot, from /proc), or None if it is
    gone or a zombie (exited, not yet reaped: it serves nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])  # field 22 of proc(5); the first two (pid, comm) are split off


def command_line(pid: int, width: int = 80) -> str:
    """The process's command line, shortened (program names without their directories)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    args = [a for a in raw.decode(errors="replace").split("\0") if a]
    if args:
        args[0] = os.path.basename(args[0])
    if len(args) > 1 and args[0].startswith("python") and args[1] == "-m":
        args = args[2:]  # "python -m serve.cli worker" reads as "serve.cli worker"
    text = " ".join(os.path.basename(a) if a.startswith("/") else a for a in args)
    return text[:width] or "?"


@dataclass(frozen=True)
class Lease:
    path: Path
    pid: int
    start: int | None

    @property
    def alive(self) -> bool:
        now = process_start(self.pid)
        return now is not None and (self.start is None or now == self.start)


class Leases:
    """The leases and the last-use mark of one service of one data directory."""

    def __init__(self, run_dir: Path, name: str) -> None:
        self.dir = run_dir / f"{name}.leases"
        self.used_path = run_dir / f"{name}.used"

    def take(self) -> Path:
        """A lease for this process (one per call: two holders in one process each
        release their own)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        path = self.dir / f"{pid}-{secrets.token_hex(4)}"
        path.write_text(json.dumps({"pid": pid, "start": process_start(pid)}))
        self.touch()
        return path

    def release(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self.touch()

    def touch(self) -> None:
        self.used_path.parent.mkdir(parents=True, exist_ok=True)
        self.used_path.touch()

    def all(self) -> list[Lease]:
        found = []
        for path in sorted(self.dir.glob("*")) if self.dir.is_dir() else []:
            try:
                data = json.loads(path.read_text())
                start = data.get("start")
                found.append(Lease(path, int(data["pid"]), None if start is None else int(start)))
            except (OSError, ValueError, KeyError, TypeError):
                found.append(Lease(path, -1, None))  # unreadable: treated as stale
        return found

    def live(self, prune: bool = False) -> list[Lease]:
        """Leases whose process still runs; with ``prune``, stale ones are removed and
        count as a use now (the moment their holder's death was noticed)."""
        live: list[Lease] = []
        stale: list[Lease] = []
        for lease in self.all():
            (live if lease.pid > 0 and lease.alive else stale).append(lease)
        if prune and stale:
            for lease in stale:
                lease.path.unlink(missing_ok=True)
            self.touch()
        return live

    def last_use(self) -> float | None:
        """The time of the last take or release (None: never used)."""
        try:
            return self.used_path.stat().st_mtime
        except OSError:
            return None
