"""Which ledger transitions a seller hears about, and what the webhook body says.

From the ledger's events stream (``RedisKeys.events``), for sellers with a webhook:

- ``sync.started``: the sync job goes from waiting to active (once per sync, retries
  included);
- ``sync.progress``: one of the sync's jobs ends (completed or dead) or the sync reports
  progress; at most one per ``WEBHOOK_PROGRESS_INTERVAL_S`` per sync (the rest are
  dropped: the next one, or ``completed``, carries the newer counts);
- ``sync.completed`` / ``sync.failed``: the sync ends (once each). ``failed`` when its
  scrape died or the sync job did (``data.last_error`` says why); ``completed`` otherwise,
  with ``data.state`` ``completed_with_errors`` and ``data.failed_jobs`` when some
  products' jobs died (see ``pipeline.sync_outcome``).

Body: ``{"id", "type", "created_at", "seller_id", "sync_id", "data"}``; ``data`` is the
sync's state and per-stage counts (the API's ``GET /v1/syncs/{id}`` view for the final
events). The ``id`` is stable across retries, so a receiver can drop duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import redis

from pipeline.ledger import RedisLedger
from pipeline.ledger.events import LedgerEvent
from pipeline.notify.outbox import NewDelivery
from pipeline.records import JobType
from pipeline.sellers import RedisSellerDirectory
from pipeline.syncs import sync_view

SYNC = JobType.SYNC_SELLER.value
ONCE_TTL_MS = 7 * 86_400 * 1000
MAX_BODY_BYTES = 64 * 1024


class SyncEventTranslator:
    """Turns a batch of ledger events into webhook deliveries (reads Redis, writes nothing)."""

    def __init__(
        self,
        client: redis.Redis,
        ledger: RedisLedger,
        directory: RedisSellerDirectory,
        *,
        progress_interval_s: float,
    ) -> None:
        self._r = client
        self._ledger = ledger
        self._directory = directory
        self._interval_ms = int(progress_interval_s * 1000)

    def translate(self, events: Sequence[LedgerEvent]) -> list[NewDelivery]:
        hooked = self._directory.sellers_with_webhooks({e.seller_id for e in events})
        events = [e for e in events if e.seller_id in hooked]
        if not events:
            return []
        parents = self._parents([e.job_id for e in events if e.type != SYNC])
        out: list[NewDelivery] = []
        progress: dict[str, LedgerEvent] = {}  # sync id -> its latest progress-worthy event
        ended: set[str] = set()
        for e in events:
            if e.type == SYNC:
                kind = _sync_kind(e)
                if kind is not None:
                    out.append(self._final_or_start(kind, e))
                    if kind != "started":
                        ended.add(e.job_id)
                elif e.note.startswith("progress"):
                    progress[e.job_id] = e
            elif e.to_state in ("completed", "dead") and parents.get(e.job_id):
                progress[parents[e.job_id]] = e
        for sync_id, e in progress.items():
            if sync_id not in ended and not self._throttled(sync_id):
                out.append(self._progress(sync_id, e))
        return out

    def _parents(self, job_ids: list[str]) -> dict[str, str]:
        pipe = self._r.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hget(self._ledger.keys.job(job_id), "parent")
        values: list[Any] = pipe.execute()
        return {j: v.decode() for j, v in zip(job_ids, values, strict=True) if v}

    def _throttled(self, sync_id: str) -> bool:
        # A cheap early look; the outbox's SET NX is what actually enforces the interval.
        key = self._ledger.keys.webhook_once(f"progress:{sync_id}")
        return self._interval_ms > 0 and bool(self._r.exists(key))

    def _final_or_start(self, kind: str, e: LedgerEvent) -> NewDelivery:
        if kind == "started":
            job = self._ledger.get(e.job_id)
            data: dict[str, Any] = {"state": "active"}
            if job is not None:
                data["catalog_url"] = job.payload.get("catalog_url")
                data["priority"] = job.priority.name.lower()
        else:
            view = sync_view(self._ledger, self._r, e.job_id) or {"state": e.to_state}
            view.pop("errors", None)  # last_error stays; the full list can be long
            data = view
            # A sync the ledger completed whose scrape died is a failure to the seller.
            kind = "failed" if view.get("state") in ("failed", "dead") else "completed"
        return _delivery(e, f"sync.{kind}", e.job_id, data, once=f"{kind}:{e.job_id}")

    def _progress(self, sync_id: str, e: LedgerEvent) -> NewDelivery:
        summary = self._ledger.children_summary(sync_id)
        data: dict[str, Any] = {"state": "active", "progress": 0.0}
        if summary is not None:
            data["progress"] = round(summary.percent, 1)
            data["jobs"] = {
                "total": summary.total,
                "completed": summary.completed,
                "dead": summary.dead,
                "pending": summary.pending,
            }
            data["stages"] = summary.by_type
        once = f"progress:{sync_id}" if self._interval_ms > 0 else ""
        return _delivery(e, "sync.progress", sync_id, data, once=once, ttl_ms=self._interval_ms)


def _sync_kind(e: LedgerEvent) -> str | None:
    if e.to_state == "active" and e.from_state == "waiting":
        return "started"
    if e.to_state == "completed":
        return "completed"
    if e.to_state == "dead":
        return "failed"
    return None


def _delivery(
    e: LedgerEvent, event: str, sync_id: str, data: dict[str, Any], *, once: str, ttl_ms: int = 0
) -> NewDelivery:
    delivery_id = f"{e.id}.{event.rpartition('.')[2]}"
    envelope = {
        "id": delivery_id,
        "type": event,
        "created_at": e.at,
        "seller_id": e.seller_id,
        "sync_id": sync_id,
        "data": data,
    }
    body = json.dumps(envelope, default=str, separators=(",", ":"), sort_keys=True).encode()
    if len(body) > MAX_BODY_BYTES:
        envelope["data"] = {"state": data.get("state"), "truncated": True}
        body = json.dumps(envelope, default=str, separators=(",", ":"), sort_keys=True).encode()
    return NewDelivery(
        delivery_id, e.seller_id, event, body, once, (ttl_ms or ONCE_TTL_MS) if once else 0
    )
