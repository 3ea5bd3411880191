"""The embedded services running for a data directory, and stopping them: what
``catalog-sync services status|stop`` shows and does. Reads records, leases and /proc
only: it never starts a service and never takes a lease."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.local.leases import Leases, command_line
from pipeline.local.services import (
    ServiceRecord,
    read_record,
    record_lock,
    run_dir,
    stop_service,
)

_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ServiceUser:
    pid: int
    command: str


@dataclass(frozen=True)
class ServiceStatus:
    """One running service: its record, memory and users."""

    record: ServiceRecord
    memory_bytes: int  # resident memory of its whole process group
    processes: int
    users: tuple[ServiceUser, ...]  # live processes holding a lease
    last_use: float | None  # None: never released nor taken (a service being started)

    @property
    def idle_s(self) -> float | None:
        """Seconds since the last use; None while in use or never used."""
        if self.users or self.last_use is None:
            return None
        return max(0.0, time.time() - self.last_use)

    @property
    def stops_in_s(self) -> float | None:
        """Seconds until the idle stop, when one is due (idle, with an idle time)."""
        idle, limit = self.idle_s, self.record.idle_stop_s
        if idle is None or limit is None:
            return None
        return max(0.0, limit - idle)

    def to_dict(self) -> dict[str, object]:
        r = self.record
        return {
            "name": r.name,
            "pid": r.pid,
            "port": r.port,
            "memory_bytes": self.memory_bytes,
            "processes": self.processes,
            "started": r.started,
            "last_use": self.last_use,
            "in_use_by": [{"pid": u.pid, "command": u.command} for u in self.users],
            "idle_s": self.idle_s,
            "idle_stop_s": r.idle_stop_s,
            "stops_in_s": self.stops_in_s,
            "watchdog_pid": r.watchdog if r.watchdog_running else None,
        }


def group_memory(pgid: int) -> tuple[int, int]:
    """(resident bytes, processes) of every process in the process group ``pgid``."""
    total = count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[-1].split()[2]) != pgid:
                continue
            resident = int((entry / "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue  # it exited meanwhile
        total += resident * _PAGE
        count += 1
    return total, count


def recorded_names(data_dir: Path) -> list[str]:
    """Every service with a record in the data directory, running or not."""
    return sorted(p.stem for p in run_dir(data_dir).glob("*.json"))


def running(data_dir: Path) -> list[ServiceStatus]:
    """The data directory's services whose recorded process runs (a stale record, left
    by a service killed with -9, is not listed)."""
    found = []
    for name in recorded_names(data_dir):
        record = read_record(data_dir, name)
        if record is None or not record.running:
            continue
        leases = Leases(run_dir(data_dir), name)
        users = tuple(ServiceUser(u.pid, command_line(u.pid)) for u in leases.live())
        memory, processes = group_memory(record.pid)
        found.append(ServiceStatus(record, memory, processes, users, leases.last_use()))
    return found


def stop(data_dir: Path, names: list[str] | None = None) -> list[ServiceRecord]:
    """Stop the named services (all by default), each with its whole process group and
    its idle watchdog; returns those that were running. Stale records are removed."""
    stopped = []
    for name in names if names is not None else recorded_names(data_dir):
        with record_lock(data_dir, name):
            record = read_record(data_dir, name)
            if record is None:
                continue
            was_running = record.running
            stop_service(data_dir, record)
            if was_running:
                stopped.append(record)
    return stopped
