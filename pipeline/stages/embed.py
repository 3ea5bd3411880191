"""``generate-embedding``: whole batches of products to vectors, upserted into the store.

One call takes a batch of jobs (the dispatcher claims ``SIGLIP_MAX_BATCH_SIZE`` at once
so the replicas see full batches). A product whose image is missing or corrupt fails
alone (dead letter with the reason); the others go on to quality control.

A retried job (its worker died, or stalled past its lease, after queueing QC) may find
QC already decided: it leaves that product alone, since embedding it again would undo
the verdict (a redo, QC asking again for a row the store lost, embeds anyway); when QC
decides while it embeds, the row it wrote gets the verdict back.
A job for a version that has since changed is a no-op: the newer version has its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from pipeline.embedding.stage import EmbedFailure, EmbedStage, ProductEmbedding, vector_rows
from pipeline.ledger import ClaimedJob, JobSpec
from pipeline.ledger.payloads import GenerateEmbeddingPayload
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import JobType, ProductRecord
from pipeline.stages.base import Outcome, child_spec, qc_key, sync_id_of
from pipeline.vectors.base import VectorStore

logger = logging.getLogger(__name__)

# Where embedding may still move a product: QC has not decided this version yet.
UNDECIDED = (ProductStatus.PENDING, ProductStatus.EMBEDDED, ProductStatus.FAILED)


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
        held = await asyncio.to_thread(
            self._products.get_many, [p.product.product_id for p in payloads]
        )
        outcomes: list[Outcome] = []
        todo: list[tuple[ClaimedJob, GenerateEmbeddingPayload]] = []
        for job, payload in zip(jobs, payloads, strict=True):
            stored = held.get(payload.product.product_id)
            if stored is None or stored.record.content_hash != payload.product.content_hash:
                outcomes.append(Outcome(job, {"stale": True}))
            elif stored.status not in UNDECIDED and not payload.redo:
                # QC's job is still queued under its key (a no-op if it already ran). A redo
                # is QC asking for a row the store lost: that one embeds whatever the status.
                outcomes.append(Outcome(job, {"decided": stored.status.value},
                                        follow_up=[self._qc(job, payload)]))  # fmt: skip
            else:
                todo.append((job, payload))
        if todo:
            outcomes += await self._embed([job for job, _ in todo], [p for _, p in todo])
        return outcomes

    async def _embed(
        self, jobs: list[ClaimedJob], payloads: list[GenerateEmbeddingPayload]
    ) -> list[Outcome]:
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
                    await asyncio.to_thread(self._set_status, record, ProductStatus.FAILED)
                outcomes.append(Outcome(job, error=result.error()))
                continue
            if not await asyncio.to_thread(self._set_status, record, ProductStatus.EMBEDDED):
                await asyncio.to_thread(self._restore_row_status, record)
            qc = self._qc(job, payload)
            outcomes.append(Outcome(job, {"image_url": result.image_url}, follow_up=[qc]))
        return outcomes

    def _set_status(self, record: ProductRecord, status: ProductStatus) -> bool:
        return self._products.set_status(
            record.product_id, record.content_hash, status, only_from=UNDECIDED
        )

    def _restore_row_status(self, record: ProductRecord) -> None:
        """QC decided this version while the batch was embedding (the first attempt's QC,
        on another worker): the row just written says "pending", which search filters
        out; give it the decided status back."""
        stored = self._products.get(record.product_id)
        if stored is None or stored.record.content_hash != record.content_hash:
            return  # removed or replaced: the newer version writes its own row
        if stored.status not in UNDECIDED:
            self._vectors.set_status([record.product_id], stored.status.value)
            self._vectors.flush()

    @staticmethod
    def _qc(job: ClaimedJob, payload: GenerateEmbeddingPayload) -> JobSpec:
        record = payload.product
        return child_spec(
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
