"""The HTTP API over real Redis, Milvus Lite, tantivy and the tiny SigLIP model.

The app is the same FastAPI app the Serve ingress runs (``create_api``), driven in-process
through httpx's ASGI transport; the Serve deployment itself is exercised end to end in
``test_pipeline_e2e.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.keyword.base import KeywordIndex
from pipeline.keyword.factory import open_keyword_index
from pipeline.products import ProductStatus
from pipeline.records import JobType, ProductRecord, QCDecision, QCVerdict
from pipeline.runtime import Runtime
from pipeline.sample_site.images import product_jpeg
from pipeline.settings import Settings
from pipeline.stages.index import keyword_doc
from pipeline.vectors.base import VectorRow
from serve.app import build_deps, create_api
from serve.deps import ApiDeps
from serve.encoder import EmbedderQueryEncoder

ADMIN = "admin-test-key-0123456789"

CATALOG = [
    # retailer id, seller, name, price, status
    ("mug", "s1", "Red ceramic coffee mug", "12.50", ProductStatus.APPROVED),
    ("lamp", "s1", "Brass desk lamp with linen shade", "80.00", ProductStatus.APPROVED),
    ("knife", "s1", "Hunting knife with leather sheath", "45.00", ProductStatus.REJECTED),
    ("scarf", "s2", "Silk scarf, hand painted", "30.00", ProductStatus.APPROVED),
    ("vase", "s2", "Blue glass vase", "25.00", ProductStatus.FLAGGED),
]


@dataclass
class Api:
    client: httpx.AsyncClient
    deps: ApiDeps
    writer: KeywordIndex
    records: dict[str, ProductRecord]
    runner: asyncio.Runner

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.runner.run(self.client.request(method, url, **kwargs))

    def pid(self, retailer: str) -> str:
        return self.records[retailer].product_id


def record(retailer: str, seller: str, name: str, price: str) -> ProductRecord:
    return ProductRecord(
        product_id=ProductRecord.make_id(seller, retailer),
        seller_id=seller,
        retailer_id=retailer,
        name=name,
        price=Decimal(price),
        currency="USD",
        image_urls=(f"http://shop.example/{retailer}.jpg",),
        source_url=f"http://shop.example/c/{seller}",
    )


@pytest.fixture(scope="module")
def event_loop_runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture(scope="module")
def api_settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    return Settings().with_overrides(
        core={"data_dir": tmp_path_factory.mktemp("api-data")},
        redis={"url": redis_url},
        siglip={"model": "tiny"},
        api={"admin_key": ADMIN, "rate_limit_per_minute": 600},
        catalog={"allowed_hosts": ("127.0.0.1",)},
    )


async def _populate(
    deps: ApiDeps, writer: KeywordIndex, embedder: LocalSiglipEmbedder
) -> dict[str, ProductRecord]:
    records = {r[0]: record(*r[:4]) for r in CATALOG}
    images = await embedder.embed_images([product_jpeg(k) for k in records])
    texts = await embedder.embed_texts([r.name for r in records.values()])
    deps.products.put_many(list(records.values()))
    rows = []
    for i, rec in enumerate(records.values()):
        status = CATALOG[i][4]
        verdict = QCVerdict(decision=QCDecision(status.value), model="test", policy_version="p1")
        deps.products.set_status(rec.product_id, rec.content_hash, status, verdict)
        rows.append(
            VectorRow(
                rec.product_id,
                rec.seller_id,
                status.value,
                float(rec.price or 0),
                rec.currency,
                images[i],
                texts[i],
                rec.content_hash,
                time.time(),
            )  # fmt: skip
        )
        if status is ProductStatus.APPROVED:
            stored = deps.products.get(rec.product_id)
            assert stored is not None
            writer.upsert([keyword_doc(stored)])
            deps.products.mark_indexed(rec.product_id, rec.content_hash)
    deps.vectors.upsert(rows)
    writer.refresh()
    deps.keywords.refresh()
    return records


@pytest.fixture(scope="module")
def api(api_settings: Settings, event_loop_runner: asyncio.Runner) -> Iterator[Api]:
    writer = open_keyword_index(api_settings, writable=True)
    embedder = LocalSiglipEmbedder.from_settings(api_settings)
    deps = build_deps(api_settings, EmbedderQueryEncoder(embedder), Runtime(api_settings))
    records = event_loop_runner.run(_populate(deps, writer, embedder))
    app = create_api(deps)

    async def make_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test", timeout=30
        )

    client = event_loop_runner.run(make_client())
    yield Api(client, deps, writer, records, event_loop_runner)
    event_loop_runner.run(client.aclose())
    event_loop_runner.run(deps.aclose())
    event_loop_runner.run(embedder.aclose())
    writer.close()


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


def test_health_and_readiness(api: Api) -> None:
    assert api.call("GET", "/healthz").json() == {"status": "ok"}
    ready = api.call("GET", "/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "redis": True, "vectors": True, "keyword_index": True, "embedder": True,
    }  # fmt: skip


def test_text_search_finds_live_products_by_name_words(api: Api) -> None:
    resp = api.call("GET", "/v1/search", params={"q": "coffee mug"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["results"][0]["product_id"] == api.pid("mug")
    assert "bm25" in body["results"][0]["sources"]
    assert body["took_ms"] >= 0
    ids = {r["product_id"] for r in body["results"]}
    assert api.pid("knife") not in ids and api.pid("vase") not in ids  # rejected, flagged

    knife = api.call("GET", "/v1/search", params={"q": "hunting knife"}).json()
    assert api.pid("knife") not in {r["product_id"] for r in knife["results"]}


def test_filters_by_seller_and_price(api: Api) -> None:
    body = api.call("GET", "/v1/search", params={"q": "silk scarf", "seller_id": "s1"}).json()
    assert api.pid("scarf") not in {r["product_id"] for r in body["results"]}
    cheap = api.call("GET", "/v1/search", params={"q": "lamp", "max_price": "50"}).json()
    assert api.pid("lamp") not in {r["product_id"] for r in cheap["results"]}
    bad = api.call("GET", "/v1/search", params={"q": "lamp", "min_price": "9", "max_price": "1"})
    assert bad.status_code == 422


def test_cache_answers_repeats_and_a_sync_invalidates_it(api: Api) -> None:
    params = {"q": "desk lamp", "limit": "5"}
    first = api.call("GET", "/v1/search", params=params).json()
    second = api.call("GET", "/v1/search", params=params).json()
    assert not first["cached"] and second["cached"]
    assert second["results"] == first["results"]
    # Any change to the catalog bumps the search generation: stale entries are unreachable.
    api.deps.products.put_many([])
    third = api.call("GET", "/v1/search", params=params).json()
    assert not third["cached"]


def test_photo_search_returns_the_same_product_first(api: Api) -> None:
    files = {"image": ("scarf.jpg", product_jpeg("scarf"), "image/jpeg")}
    resp = api.call("POST", "/v1/search/image", files=files)
    assert resp.status_code == 200, resp.text
    assert resp.json()["results"][0]["product_id"] == api.pid("scarf")
    broken = api.call(
        "POST", "/v1/search/image", files={"image": ("x.jpg", b"not a jpeg", "image/jpeg")}
    )
    assert broken.status_code == 422
    empty = api.call("POST", "/v1/search/image", files={"image": ("x.jpg", b"", "image/jpeg")})
    assert empty.status_code == 422


def test_products_routes(api: Api) -> None:
    got = api.call("GET", f"/v1/products/{api.pid('mug')}")
    assert got.status_code == 200 and got.json()["live"] is True
    assert api.call("GET", "/v1/products/s9:nothing").status_code == 404
    listing = api.call("GET", "/v1/sellers/s2/products").json()
    assert listing["total"] == 2


def test_sync_requires_a_key_for_that_seller(api: Api) -> None:
    url = "http://127.0.0.1:9/c/15550001111"
    body = {"catalog_url": url}
    assert api.call("POST", "/v1/sellers/s1/sync", json=body).status_code == 401
    forged = {"Authorization": "Bearer csk_forged"}
    assert api.call("POST", "/v1/sellers/s1/sync", json=body, headers=forged).status_code == 401
    s2_key = api.deps.keys.create(seller_id="s2")
    other = {"Authorization": f"Bearer {s2_key}"}
    assert api.call("POST", "/v1/sellers/s1/sync", json=body, headers=other).status_code == 403

    s1_key = api.deps.keys.create(seller_id="s1", ttl_s=1)
    mine = {"Authorization": f"Bearer {s1_key}"}
    first = api.call("POST", "/v1/sellers/s1/sync", json=body, headers=mine)
    assert first.status_code == 202, first.text
    again = api.call("POST", "/v1/sellers/s1/sync", json=body, headers=mine)
    assert again.json() == {"sync_id": first.json()["sync_id"], "existing": True}
    status = api.call("GET", f"/v1/syncs/{first.json()['sync_id']}").json()
    assert status["state"] == "waiting" and "generate-embedding" in status["stages"]
    time.sleep(1.2)  # the seller's session key expires
    assert api.call("POST", "/v1/sellers/s1/sync", json=body, headers=mine).status_code == 401


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://x", "not a url", "https://wa.me/15550001111",
     "https://www.facebook.com/shop"],
)  # fmt: skip
def test_bad_catalog_urls_are_refused_before_queueing(api: Api, url: str) -> None:
    resp = api.call("POST", "/v1/sellers/s3/sync", json={"catalog_url": url}, headers=admin())
    assert resp.status_code == 422, resp.text
    assert "detail" in resp.json()


def test_admin_routes(api: Api) -> None:
    assert api.call("GET", "/v1/queues").status_code == 401
    seller = {"Authorization": f"Bearer {api.deps.keys.create(seller_id='s1')}"}
    assert api.call("GET", "/v1/queues", headers=seller).status_code == 403
    queues = api.call("GET", "/v1/queues", headers=admin())
    assert queues.status_code == 200
    assert api.call("GET", "/v1/dlq", headers=admin()).json()["jobs"] == []
    missing = api.call("POST", "/v1/dlq/" + "0" * 32 + "/replay", headers=admin())
    assert missing.status_code == 404


def test_review_approves_a_flagged_product_and_queues_indexing(api: Api) -> None:
    vase = api.pid("vase")
    no_key = api.call("POST", f"/v1/products/{vase}/review", json={"decision": "approve"})
    assert no_key.status_code == 401
    resp = api.call(
        "POST", f"/v1/products/{vase}/review", json={"decision": "approve"}, headers=admin()
    )
    assert resp.status_code == 200, resp.text
    stored = api.deps.products.get(vase)
    assert stored is not None and stored.status is ProductStatus.APPROVED
    assert api.deps.ledger.stats().to_dict()  # the index job is queued:
    waiting = api.deps.ledger.claim(JobType.INDEX_PRODUCT, "test", 10)
    assert [j.payload["product_id"] for j in waiting] == [vase]


def test_size_limits_and_validation(api: Api) -> None:
    assert api.call("GET", "/v1/search?q=" + "a" * 5000).status_code == 414
    big = api.call(
        "POST",
        "/v1/sellers/s1/sync",
        content=b"x" * 100_000,
        headers={**admin(), "content-type": "application/json"},
    )
    assert big.status_code == 413
    assert api.call("GET", "/v1/search", params={"q": "x", "limit": 0}).status_code == 422
    assert api.call("GET", "/v1/search", params={"q": ""}).status_code == 422
    weird = api.call("GET", "/v1/search", params={"q": "caf\u00e9 \u0000\u202e mug \U0001f600"})
    assert weird.status_code == 200


def test_flood_gets_429_with_retry_after_and_the_service_stays_up(api: Api) -> None:
    limited = api.deps.settings.api.rate_limit_per_minute
    codes = [
        api.call("GET", "/healthz", headers={"x-test": str(i)}).status_code
        for i in range(limited // 6 + 20)
    ]
    assert 429 in codes and codes[0] == 200
    resp = api.call("GET", "/healthz")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    # Page assets have their own, larger bucket: browsing thumbnails does not eat searches.
    assert api.call("GET", f"/v1/thumbnails/{api.pid('mug')}").status_code != 429
    # Another client (an API key is its own bucket) is still served.
    key = api.deps.keys.create(seller_id="s1")
    ok = api.call("GET", "/healthz", headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200
