"""Starting a seller's sync and reading its progress: shared by the API and the CLI."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import redis

from pipeline.errors import CatalogSyncError, PermanentError, UnsafeURLError
from pipeline.ledger import Job, JobSpec, RedisLedger
from pipeline.products import RedisProductStore
from pipeline.records import ID_PATTERN, JobState, JobType, Priority
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import CatalogSettings
from pipeline.stages.base import next_sync_key, scrape_key
from pipeline.sync_outcome import ENDED, error_entry, failed_counts, outcome_state

STAGES = [t.value for t in JobType if t is not JobType.SYNC_SELLER]
MAX_ERRORS = 10
DEAD_SCAN = 200  # the seller's newest dead letters looked at for a sync's reasons

# Checks a catalog URL before anything is queued; raises PermanentError with the reason.
UrlCheck = Callable[[str, str], None]


@dataclass(frozen=True)
class SyncStarted:
    sync_id: str
    existing: bool


class SyncConflict(CatalogSyncError):
    """A sync of another catalog URL is running for this seller: nothing was queued.
    The request is refused rather than the running sync replaced, so a half-scraped
    catalog never races a new one; ask again once ``sync_id`` has ended."""

    def __init__(self, seller_id: str, sync_id: str, catalog_url: str) -> None:
        super().__init__(
            f"seller {seller_id} has sync {sync_id} running for {catalog_url[:500]}; "
            "request the new catalog URL again when it has ended"
        )
        self.sync_id = sync_id
        self.catalog_url = catalog_url


def _same_catalog(a: object, b: str) -> bool:
    return isinstance(a, str) and a.strip().rstrip("/") == b.strip().rstrip("/")


def _running(seller_id: str, job: Job, catalog_url: str) -> SyncStarted:
    """The running sync when it reads ``catalog_url``; SyncConflict when it reads another."""
    running_url = job.payload.get("catalog_url")
    if not _same_catalog(running_url, catalog_url):
        raise SyncConflict(seller_id, job.id, str(running_url))
    return SyncStarted(job.id, existing=True)


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
    """Queue a sync; a sync already running for this seller with the same catalog URL is
    returned instead, and one running with another URL raises SyncConflict.

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
    pointer = ledger.keys.seller_sync(seller_id)
    latest = client.get(pointer)
    latest_id = latest.decode() if isinstance(latest, bytes) else "0"
    current = ledger.get(latest_id) if latest else None
    if current is not None and current.state not in (JobState.COMPLETED, JobState.DEAD):
        return _running(seller_id, current, catalog_url)
    requested_at = time.time()
    directory = RedisSellerDirectory(client, ledger.keys)
    if priority is None:
        priority = directory.priority_for(seller_id)
    job = ledger.enqueue(
        JobSpec(
            type=JobType.SYNC_SELLER,
            payload={"seller_id": seller_id, "catalog_url": catalog_url, "source": source},
            seller_id=seller_id,
            priority=priority,
            idempotency_key=next_sync_key(seller_id, latest_id),
        )
    )
    client.set(pointer, job.id)
    directory.record_sync(seller_id, job.id, job.created_at)
    existing = job.created_at < requested_at - 0.001
    if existing:  # a racing request queued it first, maybe for another URL
        return _running(seller_id, job, catalog_url)
    return SyncStarted(job.id, existing=False)


def latest_sync_id(ledger: RedisLedger, client: redis.Redis, seller_id: str) -> str | None:
    raw = client.get(ledger.keys.seller_sync(seller_id))
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
    scrape_job = _scrape_job(ledger, client, job)
    scrape = scrape_job.result if scrape_job is not None else None
    by_type = job.children.by_type if job.children is not None else {}
    state = outcome_state(
        job.state.value, by_type, scrape_job.state.value if scrape_job is not None else None
    )
    errors = _child_errors(ledger, client, job, scrape_job) if state in ENDED else []
    own = [error_entry(job.id, job.type.value, e.get("error")) for e in job.errors[-3:]]
    errors = (own + errors)[:MAX_ERRORS]
    return {
        "sync_id": job.id,
        "seller_id": job.seller_id,
        "state": state,
        "ended": state in ENDED,
        "ledger_state": job.state.value,
        "catalog_url": job.payload.get("catalog_url"),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "stages": stages,
        "progress": round(job.children.percent, 1) if job.children else 0.0,
        "scrape": scrape,
        "products": RedisProductStore(client, ledger.keys).seller_counts(job.seller_id),
        "failed_jobs": failed_counts(by_type),
        "errors": errors,
        "last_error": errors[0] if errors else None,
    }


def _scrape_job(ledger: RedisLedger, client: redis.Redis, sync: Job) -> Job | None:
    """The sync's scrape job (its result: found / changed / skipped with reasons)."""
    child_id = client.get(ledger.keys.idempotency(scrape_key(sync.id)))
    return ledger.get(child_id.decode()) if isinstance(child_id, bytes) else None


def _child_errors(
    ledger: RedisLedger, client: redis.Redis, sync: Job, scrape: Job | None
) -> list[dict[str, Any]]:
    """Reasons of the sync's dead jobs, the scrape's first: read from the seller's dead
    letters since the sync began (a bounded page), keeping those whose parent is the sync."""
    out: list[dict[str, Any]] = []
    if scrape is not None and scrape.state is JobState.DEAD:
        out.append(error_entry(scrape.id, scrape.type.value, scrape.last_error))
    if sync.children is None or not sync.children.dead:
        return out
    ids = cast(
        list[bytes],
        client.zrevrangebyscore(
            ledger.keys.dead_seller(sync.seller_id), "+inf", sync.created_at, start=0,
            num=DEAD_SCAN,
        ),
    )  # fmt: skip
    pipe = client.pipeline(transaction=False)
    for raw in ids:
        pipe.hmget(ledger.keys.job(raw.decode()), ["parent", "type", "error"])
    for raw, (parent, jtype, error) in zip(ids, pipe.execute(), strict=True):
        job_id = raw.decode()
        if parent is None or parent.decode() != sync.id or job_id == getattr(scrape, "id", ""):
            continue
        out.append(error_entry(job_id, jtype.decode(), json.loads(error) if error else None))
        if len(out) >= MAX_ERRORS:
            break
    return out


def url_checker(catalog: CatalogSettings) -> UrlCheck:
    """Refuses, before anything is queued, a URL that no catalog source supports and a
    literal non-public address (see :func:`refuse_private_literal`)."""

    def check(url: str, source: str) -> None:
        from pipeline.sources.base import SourceKind
        from pipeline.sources.detect import detect_source

        try:
            kind = SourceKind(source)
        except ValueError:
            raise PermanentError(f"unknown source {source!r}") from None
        if detect_source(url, catalog, kind) != SourceKind.GRAPH or not url.strip().isdigit():
            refuse_private_literal(url, catalog)

    return check


def refuse_private_literal(url: str, catalog: CatalogSettings) -> None:
    """Refuse, without any DNS lookup, a URL whose host is an IP literal (any spelling)
    in a private, loopback, link-local, metadata or other non-public range, unless it is
    in ``CATALOG_ALLOWED_HOSTS``. Names are resolved and checked by the fetcher."""
    from pipeline.fetch import UrlGuard, is_public_address, split_url
    from pipeline.fetch.guard import ip_literal

    split = split_url(url)
    address = ip_literal(split.host)
    if address is None or is_public_address(address):
        return
    if UrlGuard(catalog.allowed_hosts).is_allow_listed(split.host, split.port, address):
        return
    raise UnsafeURLError(
        f"refused {split.host!r}: it is non-public address {address} (private, loopback, "
        "link-local, metadata or reserved) and is not in CATALOG_ALLOWED_HOSTS"
    )


def validate_seller_id(seller_id: str) -> None:
    if not re.fullmatch(ID_PATTERN, seller_id):
        raise PermanentError(f"seller id must match {ID_PATTERN}, got {seller_id[:80]!r}")
