"""``generate-embedding``: whole batches of products to vectors, upserted into the store.

One call takes a batch of jobs (the dispatcher claims ``SIGLIP_MAX_BATCH_SIZE`` at once
so the replicas see full batches). A product whose image is missing or corrupt fails
alone (dead letter with the reason); the others go on to quality control.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from pipeline.embedding.stage import EmbedFailure, EmbedStage, ProductEmbedding, vector_rows
from pipeline.ledger import ClaimedJob
from pipeline.ledger.payloads import GenerateEmbeddingPayload
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import JobType
from pipeline.stages.base import Outcome, child_spec, qc_key, sync_id_of
from pipeline.vectors.base import VectorStore

logger = logging.getLogger(__name__)


class EmbedHandler:
    job_type = JobType.GENERATE_EMBEDDING

    def __init__(
        self,
        stage: EmbedStage,
        vectors: VectorStore,
        products: RedisProductStore,
        batch_size: int,
    ) -> None:
        self._stage = stage
        self._vectors = vectors
        self._products = products
        self.batch_size = batch_size

    async def handle(self, jobs: Sequence[ClaimedJob]) -> list[Outcome]:
        payloads = [GenerateEmbeddingPayload.model_validate(j.payload) for j in jobs]
        records = [p.product for p in payloads]
        results = await self._stage.run(records)
        done = [r for r in results if isinstance(r, ProductEmbedding)]
        if done:
            # "pending" in the vector store until QC decides (search filters on "approved").
            rows = vector_rows(records, results, status="pending")
            try:
                await asyncio.to_thread(self._vectors.upsert, rows)
                # Seal before acking: Milvus Lite drops unflushed rows when it restarts,
                # and QC (queued by the ack) must find them.
                await asyncio.to_thread(self._vectors.flush)
            except Exception as exc:  # the store is down: every job of the batch retries
                return [Outcome(job, error=exc) for job in jobs]
        outcomes = []
        for job, payload, result in zip(jobs, payloads, results, strict=True):
            record = payload.product
            if isinstance(result, EmbedFailure):
                if not result.retryable:
                    await asyncio.to_thread(
                        self._products.set_status,
                        record.product_id,
                        record.content_hash,
                        ProductStatus.FAILED,
                    )
                outcomes.append(Outcome(job, error=result.error()))
                continue
            await asyncio.to_thread(
                self._products.set_status,
                record.product_id,
                record.content_hash,
                ProductStatus.EMBEDDED,
            )
            qc = child_spec(
                job,
                JobType.QUALITY_CONTROL,
                {
                    "product_id": record.product_id,
                    "seller_id": record.seller_id,
                    "content_hash": record.content_hash,
                    "redo": payload.redo,
                },
                qc_key(sync_id_of(job), record.product_id, record.content_hash, payload.redo),
            )
            outcomes.append(Outcome(job, {"image_url": result.image_url}, follow_up=[qc]))
        return outcomes
