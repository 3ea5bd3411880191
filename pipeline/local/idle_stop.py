"""The idle stop of an embedded service: ``python -m pipeline.local.idle_stop``.

:class:`~pipeline.local.services.LocalService` starts one beside each service it starts
with an idle time (``EMBEDDED_IDLE_STOP_S``), in a session of its own so that it outlives
the starter. It polls the service's leases (``pipeline/local/leases.py``): while a live
process holds one, the service is in use; once none does and the last use is
``--idle-s`` seconds old, it stops the service's process group under the record lock
(the lock ``ensure()`` takes a lease under, so a process reusing the service at that
moment either gets its lease in first or finds the service gone and starts a new one).
It exits when the service is gone, whoever stopped it; it writes to the service's log.

``python -m pipeline.local.idle_stop --data-dir D --name N --pid P --idle-s S``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline.local.leases import Leases
from pipeline.local.services import (
    ServiceRecord,
    read_record,
    record_lock,
    run_dir,
    stop_service,
)


def poll_interval(idle_s: float) -> float:
    """Often enough to stop within a tenth of the idle time, at most every 5 s."""
    return min(max(idle_s / 10, 0.1), 5.0)


def _watched(data_dir: Path, name: str, pid: int) -> ServiceRecord | None:
    """The record of the watched service while it runs; None once it is gone or a new
    one (another pid, with its own watchdog) took its place."""
    record = read_record(data_dir, name)
    if record is None or record.pid != pid or not record.running:
        return None
    return record


def idle_for(leases: Leases, since: float) -> float:
    """Seconds without a user: 0 while a live process holds a lease (stale leases are
    removed); ``since`` stands in for a service never used."""
    if leases.live(prune=True):
        return 0.0
    return time.time() - (leases.last_use() or since)


def watch(data_dir: Path, name: str, pid: int, idle_s: float) -> str:
    """Poll until the service is gone or idle long enough to stop it; says which."""
    leases = Leases(run_dir(data_dir), name)
    with record_lock(data_dir, name):
        pass  # the starter holds it until the record names this watchdog
    since = time.time()
    while True:
        time.sleep(poll_interval(idle_s))
        if _watched(data_dir, name, pid) is None:
            return f"{name} pid={pid} is gone; the idle watchdog exits"
        if idle_for(leases, since) < idle_s:
            continue
        with record_lock(data_dir, name):
            record = _watched(data_dir, name, pid)
            if record is None:
                return f"{name} pid={pid} is gone; the idle watchdog exits"
            idle = idle_for(leases, since)
            if idle >= idle_s:
                stop_service(data_dir, record)
                return f"stopped {name} pid={pid}: no process used it for {idle:.0f} s"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--idle-s", type=float, required=True)
    args = parser.parse_args(argv)
    said = watch(args.data_dir, args.name, args.pid, args.idle_s)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} idle-stop: {said}", flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
