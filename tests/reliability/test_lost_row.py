"""The vector store loses a product's row after its embedding was acknowledged (what a
kill -9 of Milvus Lite can do): QC, finding no row on a retry, embeds the product again
instead of dead-lettering it, and the product ends live with its row back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from pipeline.ledger import JobSpec, RedisLedger
from pipeline.products import ProductStatus, RedisProductStore
from pipeline.records import JobType
from pipeline.sample_site.server import SampleSite
from pipeline.vectors.milvus import MilvusVectorStore
from pipeline.worker import BackgroundWorker
from tests.keys import KEYS
from tests.reliability.harness import (
    BULK,
    all_events,
    assert_sound,
    begin_sync,
    crash_settings,
    valid_ids,
    wait_for,
    wait_sync,
)

pytestmark = pytest.mark.slow


def test_qc_embeds_again_when_the_row_is_gone(
    tmp_path: Path,
    redis_url: str,
    redis_client: redis.Redis,
    site: SampleSite,
    ray_session: object,
) -> None:
    settings = crash_settings(tmp_path / "data", redis_url, site)
    ledger = RedisLedger(redis_client, settings.jobs, keys=KEYS)
    products = RedisProductStore(redis_client, KEYS)
    ids = valid_ids(site, BULK)
    worker = BackgroundWorker(settings).start()
    try:
        view = wait_sync(ledger, redis_client, begin_sync(ledger, redis_client, site, BULK), 240)
        assert view["state"] == "completed", view
        victim = sorted(ids)[0]
        stored = products.get(victim)
        assert stored is not None and stored.live
        # The row vanishes and the product is back at "embedded", as after a lost write.
        vectors = MilvusVectorStore.from_settings(settings)
        try:
            vectors.delete([victim])
            vectors.flush()
        finally:
            vectors.close()
        record = stored.record
        products.put_many([record])
        products.set_status(victim, record.content_hash, ProductStatus.EMBEDDED)
        qc = ledger.enqueue(
            JobSpec(
                type=JobType.QUALITY_CONTROL,
                payload={
                    "product_id": victim,
                    "seller_id": record.seller_id,
                    "content_hash": record.content_hash,
                },
                seller_id=record.seller_id,
            )
        )

        def live_again() -> bool:
            again = products.get(victim)
            return again is not None and again.live

        wait_for(live_again, 120, f"{victim} to be live again")
    finally:
        worker.stop()
    events = [e for e in all_events(ledger) if e.job_id == qc.id]
    assert [e.to_state for e in events if e.to_state in ("delayed", "completed")] == [
        "delayed",
        "completed",
    ], events
    assert ledger.dlq_list(limit=10) == []
    assert_sound(settings, ledger, redis_client, ids)
