"""Starting a seller's sync and reading its progress: shared by the API and the CLI."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from pipeline.errors import PermanentError
from pipeline.ledger import Job, JobSpec, RedisLedger
from pipeline.products import RedisProductStore
from pipeline.records import ID_PATTERN, JobState, JobType, Priority
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import CatalogSettings

STAGES = [t.value for t in JobType if t is not JobType.SYNC_SELLER]

# Checks a catalog URL before anything is queued; raises PermanentError with the reason.
UrlCheck = Callable[[str, str], None]


@dataclass(frozen=True)
class SyncStarted:
    sync_id: str
    existing: bool


def start_sync(
    ledger: RedisLedger,
    client: redis.Redis,
    seller_id: str,
    catalog_url: str,
    *,
    priority: Priority | None = None,
    source: str = "auto",
    check_url: UrlCheck | None = None,
) -> SyncStarted:
    """Queue a sync; a sync already running for this seller is returned instead.

    Without a ``priority`` the seller's tier decides it (premium: high; no profile:
    normal), and the stages' follow-up jobs inherit it.

    Each seller has a pointer to its latest sync. While that sync runs it is the answer;
    once it has ended, the next sync is enqueued under an idempotency key derived from it,
    so concurrent requests racing past the check still create one sync, not two.
    Raises PermanentError for an unsupported URL or invalid input (nothing is queued).
    """
    validate_seller_id(seller_id)
    if check_url is not None:
        check_url(catalog_url, source)
    pointer = f"{ledger.keys.ns}:seller:{seller_id}:sync"
    latest = client.get(pointer)
    latest_id = latest.decode() if isinstance(latest, bytes) else "0"
    current = ledger.get(latest_id) if latest else None
    if current is not None and current.state not in (JobState.COMPLETED, JobState.DEAD):
        return SyncStarted(current.id, existing=True)
    requested_at = time.time()
    directory = RedisSellerDirectory(client, namespace=ledger.keys.ns)
    if priority is None:
        priority = directory.priority_for(seller_id)
    job = ledger.enqueue(
        JobSpec(
            type=JobType.SYNC_SELLER,
            payload={"seller_id": seller_id, "catalog_url": catalog_url, "source": source},
            seller_id=seller_id,
            priority=priority,
            idempotency_key=f"sync:{seller_id}:after:{latest_id}",
        )
    )
    client.set(pointer, job.id)
    directory.record_sync(seller_id, job.id, job.created_at)
    return SyncStarted(job.id, existing=job.created_at < requested_at - 0.001)


def latest_sync_id(ledger: RedisLedger, client: redis.Redis, seller_id: str) -> str | None:
    raw = client.get(f"{ledger.keys.ns}:seller:{seller_id}:sync")
    return raw.decode() if isinstance(raw, bytes) else None


def sync_view(ledger: RedisLedger, client: redis.Redis, sync_id: str) -> dict[str, Any] | None:
    """A sync's state, per-stage counts, timings and errors, as the API shows it."""
    job = ledger.get(sync_id)
    if job is None or job.type is not JobType.SYNC_SELLER:
        return None
    stages = {name: {"total": 0, "completed": 0, "dead": 0} for name in STAGES}
    if job.children is not None:
        for name, counts in job.children.by_type.items():
            stages.setdefault(name, {"total": 0, "completed": 0, "dead": 0}).update(counts)
    scrape = _scrape_result(ledger, client, job)
    return {
        "sync_id": job.id,
        "seller_id": job.seller_id,
        "state": job.state.value,
        "catalog_url": job.payload.get("catalog_url"),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "stages": stages,
        "progress": round(job.children.percent, 1) if job.children else 0.0,
        "scrape": scrape,
        "products": RedisProductStore(client).seller_counts(job.seller_id),
        "errors": job.errors[-10:],
        "last_error": job.last_error,
    }


def _scrape_result(ledger: RedisLedger, client: redis.Redis, sync: Job) -> dict[str, Any] | None:
    """The scrape child's result (found / changed / skipped with reasons), if it ran."""
    child_id = client.get(ledger.keys.idempotency(f"scrape:{sync.id}"))
    child = ledger.get(child_id.decode()) if isinstance(child_id, bytes) else None
    return child.result if child is not None else None


def url_checker(catalog: CatalogSettings) -> UrlCheck:
    """Refuses, before anything is queued, a URL that no catalog source supports."""

    def check(url: str, source: str) -> None:
        from pipeline.sources.base import SourceKind
        from pipeline.sources.detect import detect_source

        try:
            kind = SourceKind(source)
        except ValueError:
            raise PermanentError(f"unknown source {source!r}") from None
        detect_source(url, catalog, kind)

    return check


def validate_seller_id(seller_id: str) -> None:
    if not re.fullmatch(ID_PATTERN, seller_id):
        raise PermanentError(f"seller id must match {ID_PATTERN}, got {seller_id[:80]!r}")
