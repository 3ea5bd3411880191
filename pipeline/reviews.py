"""A human verdict on a product: approve queues indexing (live after it); reject takes it
down at once. The API's review route calls this; so could any other front end."""

from __future__ import annotations

import asyncio

from pipeline.ledger import JobSpec, RedisLedger
from pipeline.products import ProductStatus, RedisProductStore, StoredProduct
from pipeline.records import JobType, QCDecision, QCVerdict
from pipeline.vectors.base import VectorStore


async def review_product(
    item: StoredProduct,
    decision: str,
    reason: str,
    *,
    products: RedisProductStore,
    vectors: VectorStore,
    ledger: RedisLedger,
) -> None:
    rec = item.record
    approved = decision == "approve"
    verdict = QCVerdict(
        decision=QCDecision.APPROVED if approved else QCDecision.REJECTED,
        reasons=[reason or f"manual {decision}"],
        model="human-review",
        policy_version=item.verdict.policy_version if item.verdict else "manual",
        confidence=1.0,
    )
    status = ProductStatus.APPROVED if approved else ProductStatus.REJECTED
    await asyncio.to_thread(products.set_status, rec.product_id, rec.content_hash, status, verdict)
    await asyncio.to_thread(vectors.set_status, [rec.product_id], status.value)
    if approved:
        payload = {
            "product_id": rec.product_id,
            "seller_id": rec.seller_id,
            "content_hash": rec.content_hash,
        }
        await asyncio.to_thread(
            ledger.enqueue,
            JobSpec(type=JobType.INDEX_PRODUCT, payload=payload, seller_id=rec.seller_id),
        )
    # A rejected product may keep its keyword document until the worker next touches it
    # (the API holds the index read-only: one writer); search hides it at once, since it
    # is no longer live.
