"""A retried embed job (its worker died, or stalled past its lease, after queueing QC)
never undoes what QC and indexing decided: not before it starts, not while it embeds.
A job for a replaced version writes nothing.

The real embed handler, the tiny model, a Milvus Lite server and a real redis-server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

import redis

from pipeline.embedding.base import Embedder
from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.embedding.stage import EmbedStage
from pipeline.ledger import ClaimedJob, JobSpec, RedisLedger
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import JobType, ProductRecord, QCDecision, QCVerdict
from pipeline.settings import JobSettings, Settings
from pipeline.stages.embed import EmbedHandler
from pipeline.vectors.milvus import MilvusVectorStore
from tests.embedding.conftest import ImageSite, make_jpeg
from tests.keys import KEYS

APPROVED = QCVerdict(decision=QCDecision.APPROVED, model="test", policy_version="p1")


class Meanwhile:
    """The real embedder; ``event`` runs while it embeds (another worker's QC landing)."""

    def __init__(self, inner: Embedder, event: Callable[[], None]) -> None:
        self._inner = inner
        self._event = event

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def embed_texts(self, texts: list[str]) -> Any:
        self._event()
        return await self._inner.embed_texts(texts)


class Rig:
    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        site: ImageSite,
        store: MilvusVectorStore,
        redo: int = 0,
    ) -> None:
        self.settings = settings
        self.products = RedisProductStore(client, KEYS)
        self.vectors = store
        self.record = ProductRecord(
            product_id="s1:mug", seller_id="s1", name="Red mug", price=Decimal("12.50"),
            currency="USD", image_urls=(site.add("/mug.jpg", make_jpeg(7)),),
            source_url="https://shop.example/mug",
        )  # fmt: skip
        self.products.put_many([self.record])
        ledger = RedisLedger(client, JobSettings(), keys=KEYS)
        payload = {"product": self.record.model_dump(mode="json"), "redo": redo}
        ledger.enqueue(JobSpec(JobType.GENERATE_EMBEDDING, payload, "s1"))
        (self.job,) = ledger.claim(JobType.GENERATE_EMBEDDING, "gpu", 1)

    def attempt(self, meanwhile: Callable[[], None] | None = None) -> dict[str, Any]:
        """One run of the claimed job through the real handler: its result and QC keys."""
        job: ClaimedJob = self.job

        async def main() -> dict[str, Any]:
            embedder: Embedder = LocalSiglipEmbedder.from_settings(self.settings, threads=1)
            used = cast(Embedder, Meanwhile(embedder, meanwhile)) if meanwhile else embedder
            stage = EmbedStage.from_settings(self.settings, used)
            try:
                handler = EmbedHandler(stage, self.vectors, self.products, batch_size=8)
                (outcome,) = await asyncio.wait_for(handler.handle([job]), 120)
                assert outcome.error is None, outcome.error
                keys = [s.idempotency_key for s in outcome.follow_up]
                return {"result": outcome.result, "qc": keys}
            finally:
                await stage.aclose()
                await embedder.aclose()

        return asyncio.run(main())

    def qc_and_index(self) -> None:
        """What the QC and index stages do for an approved product."""
        rec = self.record
        assert self.products.set_status(
            rec.product_id, rec.content_hash, ProductStatus.APPROVED, APPROVED
        )
        self.vectors.set_status([rec.product_id], "approved")
        self.vectors.flush()
        assert self.products.mark_indexed(rec.product_id, rec.content_hash)

    def assert_live_and_approved(self) -> None:
        stored = self.products.get(self.record.product_id)
        assert stored is not None and stored.live and stored.status is ProductStatus.APPROVED
        (row,) = self.vectors.fetch([self.record.product_id])
        assert row.status == "approved"  # vector search filters on it


def test_a_retried_embed_job_leaves_a_decided_product_alone(
    settings: Settings, redis_client: redis.Redis, image_site: ImageSite,
    milvus_store: MilvusVectorStore,
) -> None:  # fmt: skip
    rig = Rig(settings, redis_client, image_site, milvus_store)
    first = rig.attempt()
    assert "image_url" in first["result"] and len(first["qc"]) == 1
    rig.qc_and_index()  # before the retry starts

    again = rig.attempt()
    assert again == {"result": {"decided": "approved"}, "qc": first["qc"]}
    rig.assert_live_and_approved()

    # A newer version replaced the product: the old version's job writes nothing.
    newer = rig.record.model_dump(exclude={"content_hash"}) | {"price": Decimal("13.00")}
    rig.products.put_many([ProductRecord(**newer)])
    assert rig.attempt()["result"] == {"stale": True}
    (row,) = milvus_store.fetch([rig.record.product_id])
    assert row.status == "approved"


def test_qc_deciding_while_the_retry_embeds_keeps_its_status(
    settings: Settings, redis_client: redis.Redis, image_site: ImageSite,
    milvus_store: MilvusVectorStore,
) -> None:  # fmt: skip
    rig = Rig(settings, redis_client, image_site, milvus_store)
    first = rig.attempt()
    again = rig.attempt(meanwhile=rig.qc_and_index)  # lands after the retry's own check
    assert again["qc"] == first["qc"]
    rig.assert_live_and_approved()


def test_a_redo_for_a_lost_row_embeds_a_decided_product_again(
    settings: Settings, redis_client: redis.Redis, image_site: ImageSite,
    milvus_store: MilvusVectorStore,
) -> None:  # fmt: skip
    """QC found no row for an approved product (the store lost it) and asked for a redo:
    the redo writes the row, with the verdict's status, whatever the product's state."""
    rig = Rig(settings, redis_client, image_site, milvus_store, redo=1)
    rig.qc_and_index()
    assert milvus_store.fetch([rig.record.product_id]) == []
    redone = rig.attempt()
    assert "image_url" in redone["result"] and redone["qc"][0].endswith(":r1")
    rig.assert_live_and_approved()
