"""``index-product``: approved products into the keyword index, in bulk; then they are live."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from pipeline.errors import PermanentError
from pipeline.keyword.base import KeywordDoc, KeywordIndex
from pipeline.ledger import ClaimedJob
from pipeline.ledger.payloads import IndexProductPayload
from pipeline.products import ProductStatus, RedisProductStore, StoredProduct
from pipeline.records import JobType
from pipeline.stages.base import Outcome

logger = logging.getLogger(__name__)


def keyword_doc(item: StoredProduct) -> KeywordDoc:
    rec = item.record
    return KeywordDoc(
        product_id=rec.product_id,
        seller_id=rec.seller_id,
        name=rec.name,
        description=rec.description,
        status=item.status.value,
        price=rec.price,
        currency=rec.currency,
        content_hash=rec.content_hash,
        sku=rec.retailer_id,
        availability=rec.availability.value,
    )


class IndexHandler:
    job_type = JobType.INDEX_PRODUCT

    def __init__(
        self, keywords: KeywordIndex, products: RedisProductStore, batch_size: int
    ) -> None:
        self._keywords = keywords
        self._products = products
        self.batch_size = batch_size

    async def handle(self, jobs: Sequence[ClaimedJob]) -> list[Outcome]:
        payloads = [IndexProductPayload.model_validate(j.payload) for j in jobs]
        stored = await asyncio.to_thread(self._products.get_many, [p.product_id for p in payloads])
        outcomes: list[Outcome] = []
        docs: list[tuple[ClaimedJob, IndexProductPayload, KeywordDoc]] = []
        for job, payload in zip(jobs, payloads, strict=True):
            item = stored.get(payload.product_id)
            current = item is not None and item.record.content_hash == payload.content_hash
            if item is None or not current or item.status is not ProductStatus.APPROVED:
                outcomes.append(Outcome(job, {"stale": True}))
                continue
            docs.append((job, payload, keyword_doc(item)))
        if not docs:
            return outcomes
        try:
            bulk = await asyncio.to_thread(self._keywords.upsert, [d for _, _, d in docs])
        except Exception as exc:  # the index is down: the whole batch retries
            return outcomes + [Outcome(job, error=exc) for job, _, _ in docs]
        for job, payload, _ in docs:
            reason = bulk.errors.get(payload.product_id)
            if reason is not None:
                outcomes.append(Outcome(job, error=PermanentError(f"index refused: {reason}")))
                continue
            live = await asyncio.to_thread(
                self._products.mark_indexed, payload.product_id, payload.content_hash
            )
            outcomes.append(Outcome(job, {"live": live}))
        return outcomes
