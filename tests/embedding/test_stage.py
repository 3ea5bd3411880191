"""The embed stage: products from a loopback image site to vectors, and into Milvus."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.embedding.stage import (
    EmbedFailure,
    EmbedStage,
    ProductEmbedding,
    product_text,
    vector_rows,
)
from pipeline.errors import BackendUnavailable, PermanentError, RetryableError
from pipeline.records import ProductRecord
from pipeline.settings import Settings
from pipeline.vectors.base import VectorFilter
from pipeline.vectors.milvus import MilvusVectorStore
from tests.embedding.conftest import ImageSite, make_bomb_png, make_jpeg

pytestmark = pytest.mark.slow


def product(i: int, urls: tuple[str, ...], seller: str = "seller-1") -> ProductRecord:
    return ProductRecord(
        product_id=f"{seller}:p{i}",
        seller_id=seller,
        name=f"Product {i}",
        description=f"hand made item number {i}",
        price=f"{10 + i}.50",  # type: ignore[arg-type]
        currency="KES",
        image_urls=urls,
        source_url=f"https://example.com/p/{i}",
    )


def run(coro: Any, timeout: float = 120) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_products_become_vectors_and_failures_stay_per_product(
    settings: Settings, image_site: ImageSite
) -> None:
    good = [product(i, (image_site.add(f"/img/{i}.jpg", make_jpeg(i)),)) for i in range(6)]
    broken = product(90, (image_site.add("/broken.jpg", b"\xff\xd8\xff\xe0 not really"),))
    bomb = product(91, (image_site.add("/bomb.png", make_bomb_png()),))
    missing = product(92, (image_site.url("/gone.jpg"),))  # 404
    private = product(93, ("http://10.0.0.7/secret.jpg",))  # SSRF guard refuses it
    no_image = product(94, ())
    products = [good[0], broken, good[1], bomb, missing, good[2], private, no_image, *good[3:]]

    async def main() -> list[Any]:
        embedder = LocalSiglipEmbedder.from_settings(settings, threads=1)
        stage = EmbedStage.from_settings(settings, embedder)  # the real SafeFetcher
        try:
            return await stage.run(products)
        finally:
            await stage.aclose()
            await embedder.aclose()

    results = run(main())
    assert [r.product_id for r in results] == [p.product_id for p in products]
    by_id = {r.product_id: r for r in results}
    for p in good:
        result = by_id[p.product_id]
        assert isinstance(result, ProductEmbedding)
        assert result.image_vector.shape == (768,) and result.text_vector.shape == (768,)
        assert result.image_vector.dtype == np.float32
        assert np.linalg.norm(result.image_vector) == pytest.approx(1.0, abs=1e-5)
        assert result.image_url == p.image_urls[0]
    reasons = {
        broken.product_id: "corrupt or truncated",
        bomb.product_id: "decompression bomb",
        missing.product_id: "404",
        no_image.product_id: "no image",
    }
    for pid, reason in reasons.items():
        failure = by_id[pid]
        assert isinstance(failure, EmbedFailure) and not failure.retryable, failure
        assert reason in failure.reason
        assert isinstance(failure.error(), PermanentError)
    refused = by_id[private.product_id]
    assert isinstance(refused, EmbedFailure) and not refused.retryable
    # Different images, different vectors; same text for the same product.
    vectors = np.stack([by_id[p.product_id].image_vector for p in good])  # type: ignore[union-attr]
    assert len({v.tobytes() for v in vectors}) == 6


def test_unreachable_host_is_retryable_and_injected_fetchers_work(settings: Settings) -> None:
    calls: list[str] = []

    async def fetch(record: ProductRecord) -> bytes:
        url = record.image_urls[0]
        calls.append(url)
        if "down" in url:
            raise BackendUnavailable("connection refused")
        return make_jpeg(len(calls))

    items = [product(1, ("http://shop/a.jpg",)), product(2, ("http://down/b.jpg", "http://x/c"))]

    async def main() -> list[Any]:
        embedder = LocalSiglipEmbedder.from_settings(settings, threads=1)
        stage = EmbedStage(embedder, fetch, decode_workers=2)
        try:
            return await stage.run(items)
        finally:
            await stage.aclose()
            await embedder.aclose()

    ok, down = run(main())
    assert isinstance(ok, ProductEmbedding)
    assert isinstance(down, EmbedFailure) and down.retryable
    assert isinstance(down.error(), RetryableError)
    assert sorted(calls) == ["http://down/b.jpg", "http://shop/a.jpg"]  # first image only
    assert product_text(items[0]) == "Product 1. hand made item number 1"


def test_sample_products_reach_milvus_through_the_actors(
    ray_session: Any, settings: Settings, image_site: ImageSite, milvus_store: MilvusVectorStore
) -> None:
    from pipeline.embedding.actors import RaySiglipEmbedder

    products = [product(i, (image_site.add(f"/p/{i}.jpg", make_jpeg(100 + i)),)) for i in range(8)]
    products.append(product(50, (image_site.add("/p/bad.jpg", b"GIF89a broken"),)))
    tuned = settings.with_overrides(
        siglip={"replicas": 1, "cpus_per_replica": 0.25, "request_timeout": 90}
    )
    embedder = RaySiglipEmbedder.start(tuned)

    async def main() -> list[Any]:
        stage = EmbedStage.from_settings(tuned, embedder)
        try:
            return await stage.run(products)
        finally:
            await stage.aclose()
            await embedder.aclose()

    results = run(main())
    rows = vector_rows(products, results, status="approved")
    assert len(rows) == 8
    milvus_store.upsert(rows)
    assert milvus_store.count() == 8
    target = rows[3]
    hits = milvus_store.search(target.image_vector, filters=VectorFilter(seller_id="seller-1"))
    assert hits[0].product_id == target.product_id
    stored = milvus_store.fetch([target.product_id])[0]
    assert stored.price == 13.5 and stored.currency == "KES"
    assert stored.content_hash == products[3].content_hash
    np.testing.assert_allclose(stored.text_vector, target.text_vector, atol=1e-6)
    failed = [r for r in results if isinstance(r, EmbedFailure)]
    assert [f.product_id for f in failed] == ["seller-1:p50"]
