"""``quality-control``: a verdict per product; approved ones are queued for indexing.

Rejected products never go live; flagged ones wait for a review (the API's review route).
A job for a version of the product that has since changed is a no-op: the newer version
has its own job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from pipeline.errors import RetryableError
from pipeline.keyword.base import KeywordIndex
from pipeline.ledger import ClaimedJob
from pipeline.ledger.payloads import MAX_REDO, GenerateEmbeddingPayload, QualityControlPayload
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.qc.base import QCInput, QualityChecker
from pipeline.records import JobType, ProductRecord, QCDecision
from pipeline.stages.base import Outcome, child_spec, embed_key, index_key, sync_id_of
from pipeline.vectors.base import VectorStore

logger = logging.getLogger(__name__)

ReadImage = Callable[[ProductRecord], Awaitable[bytes]]  # a product's first image

STATUS_OF = {
    QCDecision.APPROVED: ProductStatus.APPROVED,
    QCDecision.REJECTED: ProductStatus.REJECTED,
    QCDecision.FLAGGED: ProductStatus.FLAGGED,
}


class QCHandler:
    job_type = JobType.QUALITY_CONTROL
    batch_size = 1

    def __init__(
        self,
        checker: QualityChecker,
        vectors: VectorStore,
        keywords: KeywordIndex,
        products: RedisProductStore,
        read_image: ReadImage | None,
    ) -> None:
        """``read_image`` (the image store's bytes, :class:`pipeline.stored_images.StoredImages`)
        is None when the checker works without image bytes (local QC)."""
        self._checker = checker
        self._vectors = vectors
        self._keywords = keywords
        self._products = products
        self._read_image = read_image

    async def handle(self, jobs: Sequence[ClaimedJob]) -> list[Outcome]:
        return list(await asyncio.gather(*(self._one(job) for job in jobs)))

    async def _one(self, job: ClaimedJob) -> Outcome:
        payload = QualityControlPayload.model_validate(job.payload)
        stored = await asyncio.to_thread(self._products.get, payload.product_id)
        if stored is None or stored.record.content_hash != payload.content_hash:
            return Outcome(job, {"stale": True})
        try:
            rows = await asyncio.to_thread(self._vectors.fetch, [payload.product_id])
            if not rows:
                # The embed stage seals the row before it queues QC: a missing row is a
                # store still reloading after a restart (retry), or, still missing on a
                # retry, a store that lost it (a crashed Milvus Lite): embed it again.
                if job.attempt >= 2 and payload.redo < MAX_REDO:
                    return self._embed_again(job, payload, stored.record)
                raise RetryableError(f"no vector row for {payload.product_id} yet")
            image = await self._image(stored.record)
            verdict = await self._checker.check(
                QCInput(
                    product=stored.record,
                    image=image,
                    image_vector=rows[0].image_vector if rows else None,
                    text_vector=rows[0].text_vector if rows else None,
                    attempt=job.attempt,
                    max_attempts=job.max_attempts,
                )
            )
        except Exception as exc:  # classified by the dispatcher: retry or dead letter
            return Outcome(job, error=exc)
        status = STATUS_OF[verdict.decision]
        changed = await asyncio.to_thread(
            self._products.set_status, payload.product_id, payload.content_hash, status, verdict
        )
        if not changed:
            return Outcome(job, {"stale": True})
        await asyncio.to_thread(self._vectors.set_status, [payload.product_id], status.value)
        # Seal before acking, as the embed stage does: Milvus Lite drops unflushed writes
        # when its server stops, and search filters on this status.
        await asyncio.to_thread(self._vectors.flush)
        result = {"decision": verdict.decision.value, "reasons": verdict.reasons[:10]}
        if status is not ProductStatus.APPROVED:
            # An older approved version may still be in the keyword index: take it out.
            await asyncio.to_thread(self._keywords.delete, [payload.product_id])
            return Outcome(job, result)
        index = child_spec(
            job,
            JobType.INDEX_PRODUCT,
            payload.model_dump(exclude={"redo"}),
            index_key(sync_id_of(job), payload.product_id, payload.content_hash, payload.redo),
        )
        return Outcome(job, result, follow_up=[index])

    def _embed_again(
        self, job: ClaimedJob, payload: QualityControlPayload, record: ProductRecord
    ) -> Outcome:
        redo = payload.redo + 1
        logger.warning("qc: no vector row for %s: embedding it again (redo %s)",
                       payload.product_id, redo)  # fmt: skip
        embed = child_spec(
            job,
            JobType.GENERATE_EMBEDDING,
            GenerateEmbeddingPayload(product=record, redo=redo).model_dump(mode="json"),
            embed_key(sync_id_of(job), record.product_id, record.content_hash, redo),
        )
        return Outcome(job, {"embed_again": redo}, follow_up=[embed])

    async def _image(self, record: ProductRecord) -> bytes | None:
        if self._read_image is None or not record.image_urls:
            return None
        try:
            return await self._read_image(record)
        except Exception as exc:  # the checker judges a product without a usable image
            logger.info("qc: image %s unavailable: %s", record.image_urls[0][:200], exc)
            return None
