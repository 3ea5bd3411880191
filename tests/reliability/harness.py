"""Helpers shared by the crash tests: settings, worker processes, waits and the end checks.

Every wait is bounded; every crash test ends with :func:`assert_sound`, which checks the
ledger's invariants and that each valid product is live exactly once everywhere it should
be (product store, vector store, keyword index).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import redis

from pipeline.keyword.factory import open_keyword_index
from pipeline.ledger import RedisLedger
from pipeline.products import RedisProductStore
from pipeline.records import JobType, ProductRecord
from pipeline.sample_site.server import SampleSite
from pipeline.settings import Settings
from pipeline.syncs import start_sync, sync_view
from pipeline.vectors.milvus import MilvusVectorStore

BULK = "10000000000"  # the sample site's bulk seller: generated goods, none broken


def crash_settings(
    data_dir: Path, redis_url: str, site: SampleSite, **groups: dict[str, Any]
) -> Settings:
    """Short leases and backoff so a crash is noticed in seconds, not minutes."""
    base: dict[str, dict[str, Any]] = {
        "core": {"data_dir": data_dir},
        "redis": {"url": redis_url},
        "siglip": {"model": "tiny", "cpus_per_replica": 0.25},
        "jobs": {"timeout": 10, "backoff_base": 0.3, "max_attempts": 5},
        # One loopback host stands in for many sellers' hosts: lift the politeness limit.
        "catalog": {
            "allowed_hosts": (site.netloc,),
            "per_host_rate": 1000.0,
            "per_host_concurrency": 16,
        },
    }
    for name, values in groups.items():
        base[name] = {**base.get(name, {}), **values}
    return Settings().with_overrides(**base)


def settings_env(settings: Settings, ray_address: str) -> dict[str, str]:
    """The environment a ``catalog-sync worker`` process needs to share this test's state."""
    return {
        **os.environ,
        **settings.environment(),
        "RAY_ADDRESS": ray_address,
        "RAY_USAGE_STATS_ENABLED": "0",
        "LOG_LEVEL": "INFO",
    }


class WorkerProcess:
    """``catalog-sync worker`` as a child process (so it can be killed with SIGKILL)."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self._env = dict(env)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        exe = Path(sys.executable).with_name("catalog-sync")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(exe), "worker"],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (graceful: it hands back what it holds), SIGKILL past the timeout."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll until ``predicate()`` is truthy; AssertionError naming ``what`` past the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def active(ledger: RedisLedger, job_type: JobType) -> int:
    stats = ledger.stats(window_minutes=1).types.get(job_type.value)
    return stats.active if stats is not None else 0


def begin_sync(ledger: RedisLedger, client: redis.Redis, site: SampleSite, seller: str) -> str:
    """Queue a sync of ``seller``'s JSON Lines feed (no browser needed: fast and steady)."""
    url = f"{site.base_url}/feed/{seller}.jsonl"
    return start_sync(ledger, client, seller, url).sync_id


def wait_sync(
    ledger: RedisLedger, client: redis.Redis, sync_id: str, timeout: float
) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        view = sync_view(ledger, client, sync_id)
        return view if view is not None and view["state"] in ("completed", "dead") else None

    view: dict[str, Any] = wait_for(ended, timeout, f"sync {sync_id} to end", every=0.25)
    return view


def valid_ids(site: SampleSite, seller: str) -> set[str]:
    found = site.catalog.seller(seller)
    assert found is not None
    return {ProductRecord.make_id(seller, p.retailer_id) for p in found.products}


def assert_sound(
    settings: Settings,
    ledger: RedisLedger,
    client: redis.Redis,
    ids: set[str],
    extra_rows: set[str] = frozenset(),  # type: ignore[assignment]
) -> None:
    """Invariants hold; each valid product is live once in every store, nothing else is
    (``extra_rows``: products known to be held back, with a vector row but not live)."""
    broken = ledger.check_invariants()
    assert broken == [], f"ledger invariants broken: {broken[:5]}"
    products = RedisProductStore(client)
    stored = products.get_many(sorted(ids))
    not_live = sorted(pid for pid in ids if pid not in stored or not stored[pid].live)
    states = {pid: (stored[pid].status, stored[pid].verdict) for pid in not_live if pid in stored}
    assert not_live == [], f"{len(not_live)} valid product(s) not live: {states or not_live[:5]}"
    vectors = MilvusVectorStore.from_settings(settings)
    try:
        rows = vectors.fetch(sorted(ids))
        missing = sorted(ids - {r.product_id for r in rows})
        assert missing == [], f"{len(missing)} live product(s) without a vector row: {missing[:5]}"
        unapproved = {r.product_id: r.status for r in rows if r.status != "approved"}
        assert unapproved == {}, f"vector rows not approved: {dict(list(unapproved.items())[:5])}"
        assert vectors.count() <= len(ids) + len(extra_rows), "the vector store holds extra rows"
    finally:
        vectors.close()
    keywords = open_keyword_index(settings, writable=False)
    try:
        keywords.refresh()
        assert keywords.count() == len(ids), "the keyword index holds a product twice or extra"
    finally:
        keywords.close()


def all_events(ledger: RedisLedger) -> list[Any]:
    """Every event of the ledger's stream, in order (read in pages)."""
    events: list[Any] = []
    after = "0"
    while True:
        page = ledger.events(after_id=after, count=10_000)
        if not page:
            return events
        events += page
        after = page[-1].id


def record_outcome(scenario: str, **values: Any) -> None:
    """Append a measured outcome to ``$RELIABILITY_REPORT`` (JSON lines) when it is set;
    docs/reliability.md's table is made from that file."""
    target = os.environ.get("RELIABILITY_REPORT")
    if not target:
        return
    import json

    with open(target, "a") as out:
        out.write(json.dumps({"scenario": scenario, **values}) + "\n")
