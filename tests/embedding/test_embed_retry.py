"""A retried embed job (its worker died after queueing QC, before acking) never undoes
what QC and indexing decided meanwhile, and a job for a replaced version writes nothing.

The real embed handler, the tiny model, a Milvus Lite server and a real redis-server.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import redis

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.embedding.stage import EmbedStage
from pipeline.ledger import JobSpec, RedisLedger
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import JobType, ProductRecord, QCDecision, QCVerdict
from pipeline.settings import JobSettings, Settings
from pipeline.stages.embed import EmbedHandler
from pipeline.vectors.milvus import MilvusVectorStore
from tests.embedding.conftest import ImageSite, make_jpeg
from tests.keys import KEYS

APPROVED = QCVerdict(decision=QCDecision.APPROVED, model="test", policy_version="p1")


def test_a_retried_embed_job_leaves_a_decided_product_alone(
    settings: Settings,
    redis_client: redis.Redis,
    image_site: ImageSite,
    milvus_store: MilvusVectorStore,
) -> None:
    products = RedisProductStore(redis_client, KEYS)
    ledger = RedisLedger(redis_client, JobSettings(), keys=KEYS)
    record = ProductRecord(
        product_id="s1:mug", seller_id="s1", name="Red mug", price=Decimal("12.50"),
        currency="USD", image_urls=(image_site.add("/mug.jpg", make_jpeg(7)),),
        source_url="https://shop.example/mug",
    )  # fmt: skip
    products.put_many([record])
    ledger.enqueue(
        JobSpec(JobType.GENERATE_EMBEDDING, {"product": record.model_dump(mode="json")}, "s1")
    )
    (job,) = ledger.claim(JobType.GENERATE_EMBEDDING, "gpu", 1)

    async def attempt() -> dict:
        embedder = LocalSiglipEmbedder.from_settings(settings, threads=1)
        stage = EmbedStage.from_settings(settings, embedder)
        try:
            handler = EmbedHandler(stage, milvus_store, products, batch_size=8)
            (outcome,) = await asyncio.wait_for(handler.handle([job]), 120)
            assert outcome.error is None, outcome.error
            return {"result": outcome.result, "qc": [s.idempotency_key for s in outcome.follow_up]}
        finally:
            await stage.aclose()
            await embedder.aclose()

    first = asyncio.run(attempt())
    assert "image_url" in first["result"] and len(first["qc"]) == 1
    # QC approves and the index job lands, as those stages do, before the retry.
    assert products.set_status(record.product_id, record.content_hash,
                               ProductStatus.APPROVED, APPROVED)  # fmt: skip
    milvus_store.set_status([record.product_id], "approved")
    assert products.mark_indexed(record.product_id, record.content_hash)

    again = asyncio.run(attempt())
    assert again == {"result": {"decided": "approved"}, "qc": first["qc"]}
    stored = products.get(record.product_id)
    assert stored is not None and stored.live and stored.status is ProductStatus.APPROVED
    (row,) = milvus_store.fetch([record.product_id])
    assert row.status == "approved"  # search filters on it

    # A newer version replaced the product: the old version's job writes nothing.
    newer = record.model_dump(exclude={"content_hash"}) | {"price": Decimal("13.00")}
    products.put_many([ProductRecord(**newer)])
    assert asyncio.run(attempt())["result"] == {"stale": True}
    (row,) = milvus_store.fetch([record.product_id])
    assert row.status == "approved"
