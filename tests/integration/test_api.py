"""The HTTP API over real Redis, Milvus Lite, tantivy and the tiny SigLIP model.

The app is the same FastAPI app the Serve ingress runs (``create_api``), driven in-process
through httpx's ASGI transport; the Serve deployment itself is exercised end to end in
``test_pipeline_e2e.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.errors import PermanentError
from pipeline.keyword.base import KeywordIndex
from pipeline.keyword.factory import open_keyword_index
from pipeline.ledger import JobSpec
from pipeline.products import ProductStatus
from pipeline.records import Availability, JobType, ProductRecord, QCDecision, QCVerdict
from pipeline.runtime import Runtime
from pipeline.sample_site.images import product_jpeg
from pipeline.search_setup import EmbedderQueryEncoder
from pipeline.sellers import RedisSellerDirectory
from pipeline.settings import Settings
from pipeline.stages.index import keyword_doc
from pipeline.syncs import latest_sync_id, start_sync
from pipeline.vectors.base import VectorRow
from serve.app import build_deps, create_api
from serve.deps import ApiDeps

ADMIN = "admin-test-key-0123456789"

CATALOG = [
    # retailer id, seller, name, price, status
    ("mug", "s1", "Red ceramic coffee mug", "12.50", ProductStatus.APPROVED),
    ("lamp", "s1", "Brass desk lamp with linen shade", "80.00", ProductStatus.APPROVED),
    ("knife", "s1", "Hunting knife with leather sheath", "45.00", ProductStatus.REJECTED),
    ("scarf", "s2", "Silk scarf, hand painted", "30.00", ProductStatus.APPROVED),
    ("vase", "s2", "Blue glass vase", "25.00", ProductStatus.FLAGGED),
    ("mug-out", "s1", "Blue ceramic coffee mug", "14.00", ProductStatus.APPROVED),
]
OUT_OF_STOCK = {"mug-out"}


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
        source_url=f"http://shop.example/p/{seller}/{retailer}",
        availability=Availability.OUT_OF_STOCK
        if retailer in OUT_OF_STOCK
        else Availability.UNKNOWN,
    )


@pytest.fixture(scope="module")
def event_loop_runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture(scope="module")
def api_settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    return Settings.defaults().with_overrides(
        core={"data_dir": tmp_path_factory.mktemp("api-data")},
        # A namespace of its own: the module's state lives across its tests, and what
        # other modules leave in the session's Redis (dead jobs, keys) is not ours.
        redis={"url": redis_url, "namespace": "test-api"},
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
    cheap = api.call(
        "GET", "/v1/search", params={"q": "lamp", "max_price": "50", "currency": "USD"}
    ).json()
    assert api.pid("lamp") not in {r["product_id"] for r in cheap["results"]}
    assert cheap["notices"] == []
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
    assert got.json()["verdict"] is None  # QC's reasons are for the seller
    assert api.call("GET", "/v1/products/s9:nothing").status_code == 404
    listing = api.call("GET", "/v1/sellers/s2/products").json()
    assert listing["total"] == 1  # the scarf; the flagged vase is not public
    assert [p["retailer_id"] for p in listing["products"]] == ["scarf"]
    # s1: four products, the rejected knife not public; pages of one add up to the whole
    whole = api.call("GET", "/v1/sellers/s1/products").json()
    assert whole["total"] == 3 and len(whole["products"]) == 3
    pages = [
        api.call("GET", "/v1/sellers/s1/products", params={"limit": 1, "offset": i}).json()
        for i in range(4)
    ]
    assert [p["product_id"] for page in pages for p in page["products"]] == [
        p["product_id"] for p in whole["products"]
    ]


def test_a_product_not_live_is_the_sellers_business(api: Api) -> None:
    knife = f"/v1/products/{api.pid('knife')}"  # rejected by QC
    public = api.call("GET", knife)
    assert public.status_code == 404 and public.json()["detail"].startswith("no product")
    other = {"Authorization": f"Bearer {api.deps.keys.create(seller_id='s2')}"}
    assert api.call("GET", knife, headers=other).status_code == 404
    own = {"Authorization": f"Bearer {api.deps.keys.create(seller_id='s1')}"}
    for headers in (own, admin()):
        seen = api.call("GET", knife, headers=headers)
        assert seen.status_code == 200 and seen.json()["status"] == "rejected"
        assert seen.json()["verdict"]["decision"] == "rejected"
    listing = api.call("GET", "/v1/sellers/s2/products", headers=admin()).json()
    assert listing["total"] == 2 and {p["status"] for p in listing["products"]} == {
        "approved",
        "flagged",
    }


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
    status = api.call("GET", f"/v1/syncs/{first.json()['sync_id']}", headers=mine).json()
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


def test_a_sync_request_for_another_url_while_one_runs_is_a_409(api: Api) -> None:
    """Same URL: the running sync. Another URL: 409 naming the running sync and its URL,
    nothing queued. Once the running sync has ended, the new URL is queued."""
    old, new = "http://127.0.0.1:9/shop/typo", "http://127.0.0.1:9/shop/fixed"

    def post(url: str, **extra: str) -> httpx.Response:
        body = {"catalog_url": url, **extra}
        return api.call("POST", "/v1/sellers/s5/sync", json=body, headers=admin())

    first = post(old, priority="high")  # high: the one sync this test claims below
    assert first.status_code == 202 and first.json()["existing"] is False, first.text
    sync_id = first.json()["sync_id"]
    assert post(old + "/").json() == {"sync_id": sync_id, "existing": True}
    other = post(new)
    assert other.status_code == 409, other.text
    assert other.json()["sync_id"] == sync_id and other.json()["catalog_url"] == old
    assert sync_id in other.json()["detail"] and old in other.json()["detail"]
    assert latest_sync_id(api.deps.ledger, api.deps.redis, "s5") == sync_id
    # The old sync ends: the fixed URL is queued as a new sync.
    [claimed] = api.deps.ledger.claim(JobType.SYNC_SELLER, "test-worker", 1)
    assert claimed.job_id == sync_id
    assert api.deps.ledger.complete(claimed, {"found": 0})
    fixed = post(new)
    assert fixed.status_code == 202 and fixed.json()["existing"] is False, fixed.text
    assert fixed.json()["sync_id"] != sync_id


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://0xa9fea9fe/latest/",
     "http://10.0.0.5/shop", "http://127.0.0.2/shop", "http://[::1]/shop",
     "http://[::ffff:192.168.1.1]/shop", "http://[fe80::1%25eth0]/shop"],
)  # fmt: skip
def test_a_literal_private_address_is_a_422_before_anything_is_queued(api: Api, url: str) -> None:
    seller = f"p{abs(hash(url)) % 10**8}"
    body = {"catalog_url": url}
    resp = api.call("POST", f"/v1/sellers/{seller}/sync", json=body, headers=admin())
    assert resp.status_code == 422, resp.text
    assert "non-public address" in resp.json()["detail"]
    assert latest_sync_id(api.deps.ledger, api.deps.redis, seller) is None


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


def test_a_price_filter_without_currency_is_ignored_and_said(api: Api) -> None:
    """Comparing 200 with a ₹1,299 mug and a $80 lamp alike would drop rows silently."""
    body = api.call("GET", "/v1/search", params={"q": "lamp", "max_price": "50"}).json()
    assert api.pid("lamp") in {r["product_id"] for r in body["results"]}
    assert len(body["notices"]) == 1 and "price filter ignored" in body["notices"][0]


def test_hits_carry_stock_product_page_seller_and_contact(api: Api) -> None:
    directory = RedisSellerDirectory(api.deps.redis, api.deps.settings.redis.keys)
    directory.upsert("s1", display_name="Casa Lumen", whatsapp="+55 11 98765-4321")
    directory.upsert("s2", display_name="Silk Road", shop_url="https://silk.example/")
    try:
        body = api.call("GET", "/v1/search", params={"q": "coffee mug"}).json()
        by_id = {r["product_id"]: r for r in body["results"]}
        mug = by_id[api.pid("mug")]
        assert mug["seller_name"] == "Casa Lumen"
        assert mug["availability"] == "unknown"
        assert mug["product_url"] == "http://shop.example/p/s1/mug"
        assert mug["contact_kind"] == "whatsapp"
        assert mug["contact_url"] == "https://wa.me/5511987654321?text=Red%20ceramic%20coffee%20mug"
        # Out of stock ranks below the in-stock match, whatever its score.
        ids = [r["product_id"] for r in body["results"]]
        assert by_id[api.pid("mug-out")]["availability"] == "out_of_stock"
        assert ids.index(api.pid("mug-out")) > ids.index(api.pid("mug"))
        assert all(
            by_id[i]["availability"] == "out_of_stock" for i in ids[ids.index(api.pid("mug-out")) :]
        )
        scarf = api.call("GET", "/v1/search", params={"q": "silk scarf"}).json()["results"][0]
        assert scarf["seller_name"] == "Silk Road" and scarf["contact_kind"] == "shop"
        # A seller without WhatsApp: the product's page at the seller.
        assert scarf["contact_url"] == "http://shop.example/p/s2/scarf"
        # A name set later shows at once, cached results included.
        directory.upsert("s2", display_name="Silk Road Co.")
        again = api.call("GET", "/v1/search", params={"q": "silk scarf"}).json()
        assert again["cached"] and again["results"][0]["seller_name"] == "Silk Road Co."
    finally:
        directory.delete("s1")
        directory.delete("s2")


def test_sync_state_over_the_api_and_its_event_stream(api: Api) -> None:
    """A sync whose scrape died: GET says failed with the reason; the SSE end event too."""
    ledger = api.deps.ledger
    url = "https://wa.me/c/15551234567"
    sync_id = start_sync(ledger, api.deps.redis, "s7", url).sync_id
    # Earlier tests left syncs waiting: take them all, play only ours.
    (sync,) = [j for j in ledger.claim(JobType.SYNC_SELLER, "w", 100) if j.job_id == sync_id]
    payload = {"seller_id": "s7", "catalog_url": url, "source": "auto"}
    ledger.add_children(
        sync_id,
        [JobSpec(JobType.SCRAPE_CATALOG, payload, "s7", idempotency_key=f"scrape:{sync_id}")],
    )
    ledger.complete(sync)
    (scrape,) = ledger.claim(JobType.SCRAPE_CATALOG, "w", 1)
    ledger.fail(
        scrape, PermanentError("https://wa.me/c/15551234567: this catalog is not available")
    )
    view = api.call("GET", f"/v1/syncs/{sync_id}", headers=admin()).json()
    assert view["state"] == "failed", view
    assert view["last_error"]["message"].endswith("this catalog is not available")
    events = api.call("GET", f"/v1/syncs/{sync_id}/events", headers=admin()).text
    end = events.split("event: end\ndata: ")[1]
    assert json.loads(end.split("\n")[0])["state"] == "failed"


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
