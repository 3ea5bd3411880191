"""Per-seller sync outcomes for the dashboard: each seller's latest sync as the API tells
it (:func:`pipeline.syncs.sync_view`), with what became of the catalog (products live,
rejected, flagged, failed, in progress) and what the scrape skipped, with the reasons.

Sellers are found through the syncs the ledger holds (running, then ended newest first),
not by scanning the keyspace: a refresh every few seconds must cost the same with ten
sellers or a million. A seller whose syncs were all trimmed drops out of the list.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import redis

from pipeline.ledger import RedisLedger
from pipeline.ops.ledgerview import live_sync_ids, recent_sync_ids, sync_summaries
from pipeline.sellers import RedisSellerDirectory
from pipeline.syncs import latest_sync_id, sync_view

MAX_SKIPPED = 20  # skipped products listed per seller (the counts cover them all)
SCAN_FACTOR = 5  # syncs looked at per seller asked for: sellers re-sync on a schedule


def seller_outcomes(ledger: RedisLedger, client: redis.Redis, limit: int = 30) -> list[Any]:
    """One row per seller (at most ``limit``), those with a sync running first: the latest
    sync's state, product counts, scrape counts, skipped products with their reasons,
    dead jobs per stage and the first error. Raises ValueError for a limit outside 1-200."""
    if not 1 <= limit <= 200:
        raise ValueError(f"limit must be 1-200, got {limit}")
    # dict.fromkeys: each once, in first-seen order (running syncs first)
    ids = live_sync_ids(ledger, client, limit)
    ids = list(dict.fromkeys(ids + recent_sync_ids(ledger, client, 0, limit * SCAN_FACTOR)))
    rows = sync_summaries(ledger, client, ids)
    sellers = list(dict.fromkeys(row["seller_id"] for row in rows))[:limit]
    names = RedisSellerDirectory(client, ledger.keys).contacts(set(sellers))
    out = []
    for seller_id in sellers:
        # The seller's pointer names its latest sync, which a replayed older one is not.
        view = sync_view(ledger, client, latest_sync_id(ledger, client, seller_id) or "")
        if view is not None:
            out.append(_row(view, names.get(seller_id, {}).get("display_name")))
    return out


def _row(view: dict[str, Any], name: str | None) -> dict[str, Any]:
    scrape = view["scrape"] or {}
    skipped = [
        {
            "name": item.get("raw_name"),
            "url": str(item.get("source_url", ""))[:500],
            "reason": str(item.get("reason", ""))[:300],
        }
        for item in scrape.get("skipped_products", [])
    ]
    reasons = Counter(item["reason"] for item in skipped)
    return {
        "seller_id": view["seller_id"],
        "seller_name": name,
        "sync_id": view["sync_id"],
        "state": view["state"],
        "created_at": view["created_at"],
        "finished_at": view["finished_at"],
        "products": view["products"],
        "scrape": {k: scrape[k] for k in ("found", "changed", "removed", "skipped") if k in scrape}
        or None,
        "skipped_reasons": dict(reasons.most_common()),
        "skipped_products": skipped[:MAX_SKIPPED],
        "failed_jobs": view["failed_jobs"],
        "last_error": view["last_error"],
    }
