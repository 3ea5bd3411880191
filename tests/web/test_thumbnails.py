"""The thumbnail route and the "more like this" API over real HTTP (see conftest)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from pipeline.blobs import open_blob_store
from pipeline.products import ProductStatus
from pipeline.records import QCDecision, QCVerdict
from serve.web.imaging import ThumbFormat
from serve.web.thumbnails import CachedThumbnailService, ThumbnailError
from tests.keys import KEYS
from tests.web.conftest import WebWorld

pytestmark = pytest.mark.slow  # Milvus Lite and the model start for this folder


@pytest.fixture
def http(web: WebWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.base_url, timeout=30) as client:
        yield client


def _image(resp: httpx.Response) -> Image.Image:
    return Image.open(io.BytesIO(resp.content))


def test_thumbnail_is_resized_and_reencoded(web: WebWorld, http: httpx.Client) -> None:
    pid = web.pid("bk-0002")
    small = http.get(f"/v1/thumbnails/{pid}", params={"size": 160, "format": "jpeg"})
    assert small.status_code == 200, small.text
    assert small.headers["content-type"] == "image/jpeg"
    assert _image(small).format == "JPEG" and _image(small).size == (160, 160)  # from 320

    webp = http.get(f"/v1/thumbnails/{pid}", params={"size": 96}, headers={"Accept": "image/webp"})
    assert webp.headers["content-type"] == "image/webp"
    assert _image(webp).format == "WEBP" and _image(webp).size == (96, 96)
    assert webp.headers["vary"] == "Accept"
    # Never enlarged: the seller's photo is 320 pixels.
    assert _image(http.get(f"/v1/thumbnails/{pid}", params={"size": 640})).size == (320, 320)


def test_bad_requests_get_clear_4xx(web: WebWorld, http: httpx.Client) -> None:
    pid = web.pid("bk-0002")
    odd = http.get(f"/v1/thumbnails/{pid}", params={"size": 123})
    assert odd.status_code == 422 and "size must be one of" in odd.json()["detail"]
    assert http.get(f"/v1/thumbnails/{pid}", params={"i": 10}).status_code == 422
    assert http.get(f"/v1/thumbnails/{pid}", params={"i": 5}).status_code == 404  # no 6th photo
    assert http.get("/v1/thumbnails/nobody:none").status_code == 404
    assert http.get("/v1/thumbnails/..%2f..%2fetc").status_code in (404, 422)


def test_second_request_is_served_from_cache_without_a_fetch(
    web: WebWorld, http: httpx.Client
) -> None:
    pid = web.pid("thumb-ok")
    before = web.images.hits("/img/thumb-ok.jpg")
    first = http.get(f"/v1/thumbnails/{pid}", params={"size": 320, "format": "jpeg"})
    assert first.status_code == 200 and first.headers["x-thumbnail-source"] == "origin"
    second = http.get(f"/v1/thumbnails/{pid}", params={"size": 320, "format": "jpeg"})
    assert second.headers["x-thumbnail-source"] == "memory"
    assert second.content == first.content
    assert web.images.hits("/img/thumb-ok.jpg") == before + 1
    assert second.headers["cache-control"] == "public, max-age=3600"
    etag = second.headers["etag"]
    revalidated = http.get(
        f"/v1/thumbnails/{pid}",
        params={"size": 320, "format": "jpeg"},
        headers={"If-None-Match": etag},
    )
    assert revalidated.status_code == 304 and not revalidated.content

    # A dozen requests at once for a size nobody asked for yet: one fetch between them.
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=web.base_url, timeout=30) as client:
            params = {"size": 96, "format": "webp"}
            calls = [client.get(f"/v1/thumbnails/{pid}", params=params) for _ in range(12)]
            return await asyncio.gather(*calls)

    answers = asyncio.run(burst())
    assert {r.status_code for r in answers} == {200}
    assert len({r.content for r in answers}) == 1
    assert web.images.hits("/img/thumb-ok.jpg") == before + 2


def test_another_replica_finds_the_thumbnail_in_redis(web: WebWorld, http: httpx.Client) -> None:
    pid = web.pid("thumb-ok")
    assert http.get(f"/v1/thumbnails/{pid}", params={"size": 160}).status_code == 200
    fetched = web.images.hits("/img/thumb-ok.jpg")

    async def other_replica() -> tuple[str, bytes]:
        import redis.asyncio as aredis

        secret = web.settings.redis.url
        assert secret is not None
        cache = aredis.Redis.from_url(secret.get_secret_value())
        service = CachedThumbnailService(
            products=web.deps.products,
            cache=cache,
            catalog=web.settings.catalog,
            images=open_blob_store(web.settings),
            keys=KEYS,
        )
        try:
            thumb = await service.get(pid, 160, ThumbFormat.JPEG)
            return thumb.source, thumb.data
        finally:
            await service.aclose()
            await cache.aclose()

    source, data = asyncio.run(other_replica())
    assert source == "redis" and Image.open(io.BytesIO(data)).size == (160, 160)
    assert web.images.hits("/img/thumb-ok.jpg") == fetched


@pytest.mark.parametrize("retailer", ["thumb-private", "thumb-metadata"])
def test_unallowed_and_private_image_hosts_are_refused(
    web: WebWorld, http: httpx.Client, retailer: str
) -> None:
    resp = http.get(f"/v1/thumbnails/{web.pid(retailer)}")
    assert resp.status_code == 403, resp.text
    assert "not allowed" in resp.json()["detail"]
    assert web.blocked.total() == 0  # the request never left for the unlisted host


def test_corrupt_and_missing_images_are_4xx_and_remembered(
    web: WebWorld, http: httpx.Client
) -> None:
    corrupt = http.get(f"/v1/thumbnails/{web.pid('thumb-corrupt')}", params={"size": 160})
    assert corrupt.status_code == 422, corrupt.text
    assert corrupt.json() == {"detail": "the product's image is not a usable picture"}
    hits = web.images.hits("/corrupt.jpg")
    again = http.get(f"/v1/thumbnails/{web.pid('thumb-corrupt')}", params={"size": 160})
    assert again.status_code == 422 and web.images.hits("/corrupt.jpg") == hits  # no refetch

    gone = http.get(f"/v1/thumbnails/{web.pid('thumb-gone')}")
    assert gone.status_code == 404 and "gone" in gone.json()["detail"]


def test_a_product_taken_down_loses_its_cached_thumbnail_at_once(
    web: WebWorld, http: httpx.Client
) -> None:
    rec = web.products["thumb-takedown"].record
    assert http.get(f"/v1/thumbnails/{rec.product_id}").status_code == 200
    assert http.get(f"/v1/thumbnails/{rec.product_id}").headers["x-thumbnail-source"] == "memory"
    verdict = QCVerdict(decision=QCDecision.REJECTED, model="human-review", policy_version="p1")
    web.deps.products.set_status(rec.product_id, rec.content_hash, ProductStatus.REJECTED, verdict)
    gone = http.get(f"/v1/thumbnails/{rec.product_id}")
    assert gone.status_code == 404 and "no live product" in gone.json()["detail"]
    assert http.get(f"/v1/products/{rec.product_id}/similar").status_code == 404


def test_service_refuses_products_that_are_not_live(web: WebWorld) -> None:
    async def ask() -> int:
        service = CachedThumbnailService(
            products=web.deps.products,
            cache=None,
            catalog=web.settings.catalog,
            images=open_blob_store(web.settings),
            keys=KEYS,
        )
        try:
            await service.get("s1:does-not-exist", 160, ThumbFormat.JPEG)
        except ThumbnailError as exc:
            return exc.status
        finally:
            await service.aclose()
        return 200

    assert asyncio.run(ask()) == 404


def test_similar_products_leave_the_product_out_and_respect_filters(
    web: WebWorld, http: httpx.Client
) -> None:
    pid = web.pid("cl-0002")
    first = http.get(f"/v1/products/{pid}/similar", params={"limit": 5})
    assert first.status_code == 200, first.text
    body = first.json()
    ids = [hit["product_id"] for hit in body["results"]]
    assert len(ids) == 5 and pid not in ids and not body["cached"]
    assert http.get(f"/v1/products/{pid}/similar", params={"limit": 5}).json()["cached"]

    page2 = http.get(f"/v1/products/{pid}/similar", params={"limit": 5, "offset": 5}).json()
    assert not set(ids) & {hit["product_id"] for hit in page2["results"]}

    inr = http.get(f"/v1/products/{pid}/similar", params={"currency": "INR"}).json()
    assert inr["results"] and {hit["currency"] for hit in inr["results"]} == {"INR"}
    assert http.get("/v1/products/nobody:none/similar").status_code == 404
    bad = http.get(f"/v1/products/{pid}/similar", params={"min_price": 9, "max_price": 1})
    assert bad.status_code == 422
