"""Helpers shared by the crash tests: settings, worker processes, waits, the end checks, and
the :class:`Rig` of a module that owns (and kills) its own Redis and Milvus.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from pipeline.errors import BackendUnavailable
from pipeline.keyword.factory import open_keyword_index
from pipeline.ledger import RedisLedger
from pipeline.products import RedisProductStore
from pipeline.records import JobType, ProductRecord
from pipeline.sample_site.catalog import SampleCatalog
from pipeline.sample_site.server import SampleSite
from pipeline.settings import Settings
from pipeline.syncs import start_sync, sync_view
from pipeline.vectors.milvus import MilvusVectorStore
from pipeline.worker import BackgroundWorker
from tests.keys import KEYS
from tests.reliability.services import OwnedService, generated_seller, wait_for

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
    return Settings.defaults().with_overrides(**base)


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
        return view if view is not None and view["ended"] else None

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
    products = RedisProductStore(client, KEYS)
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


@dataclass
class Rig:
    """A crash module's own world: a sample site of generated sellers, a Redis and a Milvus
    the module may kill, and one worker (on the session's Ray) serving them."""

    site: SampleSite
    settings: Settings
    redis: OwnedService
    milvus: OwnedService
    client: redis.Redis
    ledger: RedisLedger
    # Sellers whose sync a test began: what the stores must hold, whichever tests ran
    # before (each test syncs a seller of its own, so any order or selection works).
    synced: set[str] = field(default_factory=set)

    def begin_sync(self, seller: str) -> str:
        self.synced.add(seller)
        return begin_sync(self.ledger, self.client, self.site, seller)

    def ids(self) -> set[str]:
        """Valid products of every seller synced so far in this module."""
        return {pid for seller in self.synced for pid in valid_ids(self.site, seller)}

    def when_active(self, job_type: JobType, timeout: float = 120) -> None:
        key = self.ledger.keys.active(job_type.value)
        wait_for(lambda: self.client.zcard(key) > 0, timeout, f"{job_type} jobs active", 0.02)

    def vector_store_serves(self) -> bool:
        """A real query answers (the gRPC port answers before the collections are loaded)."""
        try:
            store = MilvusVectorStore.from_settings(self.settings)
        except BackendUnavailable:
            return False
        try:
            store.count()
            return True
        except BackendUnavailable:
            return False
        finally:
            store.close()

    def sync_completes(self, sync_id: str, timeout: float) -> dict[str, Any]:
        """Wait for the sync: it completed with every product of its seller live, and the
        stores are sound (:func:`assert_sound`). Returns the sync's view."""
        view = wait_sync(self.ledger, self.client, sync_id, timeout=timeout)
        assert view["state"] == "completed", view
        products = len(valid_ids(self.site, view["seller_id"]))
        assert view["products"]["live"] == products, view["products"]
        assert_sound(self.settings, self.ledger, self.client, self.ids())
        return view

    def idle(self) -> bool:
        types = self.ledger.stats().types.values()
        return all(t.waiting + t.delayed + t.active == 0 for t in types)

    def milvus_down_past_the_retries(
        self, seller: str, stop: Callable[[], None], timeout: float
    ) -> dict[str, Any]:
        """Sync ``seller`` and ``stop`` Milvus once embedding is under way: past the
        retries its jobs are dead letters naming Milvus. Then Milvus starts again on its
        files and replays finish them: every product ends live, nothing the store
        acknowledged is lost. Returns the figures for :func:`record_outcome`."""
        sync_id = self.begin_sync(seller)
        self.when_active(JobType.GENERATE_EMBEDDING)
        stop()
        stopped = time.monotonic()
        view = wait_sync(self.ledger, self.client, sync_id, timeout=timeout)
        down_for = time.monotonic() - stopped
        dead = self.ledger.dlq_list(seller_id=seller, limit=1000)
        assert dead, "nothing went past its retries"
        for job in dead:
            assert job.last_error and "ilvus" in str(job.last_error), job.last_error
            assert job.attempt == self.settings.jobs.max_attempts
        products = len(valid_ids(self.site, seller))
        assert view["products"]["live"] < products
        self.milvus.start()
        wait_for(self.vector_store_serves, 180, "Milvus to serve queries again", 0.5)
        replayed = 0
        for _ in range(6):  # a replayed job may die again (a slow machine, a late retry)
            replayed += self.ledger.replay_many(seller_id=seller)
            wait_for(self.idle, 180, "replayed jobs to finish", 0.5)
            if not self.ledger.dlq_list(seller_id=seller):
                break
        left = self.ledger.dlq_list(seller_id=seller, limit=1000)
        assert left == [], [(j.payload.get("product_id"), j.last_error) for j in left[:5]]
        assert_sound(self.settings, self.ledger, self.client, self.ids())
        return {
            "products": products,
            "dead_letters": len(dead),
            "replayed": replayed,
            "live_after_replay": products,
            "lost": 0,
            "seconds_down": round(down_for, 1),
        }


@contextmanager
def owned_rig(
    base: Path,
    sellers: Sequence[str],
    per_seller: int,
    milvus_kind: str,
    jobs: dict[str, Any],
) -> Iterator[Rig]:
    """A :class:`Rig` under ``base``: ``per_seller`` generated products for each seller, a
    Redis and a Milvus (``milvus_kind``, an :class:`OwnedService` kind) of its own, and the
    crash settings with these ``jobs`` retries. Everything is stopped on exit."""
    catalog = SampleCatalog([generated_seller(phone, per_seller) for phone in sellers])
    with SampleSite(catalog=catalog) as site:
        redis_service = OwnedService("redis", base / "owned").start()
        milvus = OwnedService(milvus_kind, base / "owned").start()
        url = f"redis://127.0.0.1:{redis_service.port}/0"
        milvus_settings = {"uri": f"http://127.0.0.1:{milvus.port}", "timeout": 5}
        settings = crash_settings(base / "data", url, site, milvus=milvus_settings, jobs=jobs)
        client: redis.Redis = redis.Redis.from_url(url)
        worker = BackgroundWorker(settings).start()
        try:
            ledger = RedisLedger(client, settings.jobs, keys=KEYS)
            yield Rig(site, settings, redis_service, milvus, client, ledger)
        finally:
            worker.stop()
            client.close()
            milvus.stop()
            redis_service.stop()
