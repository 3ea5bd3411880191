"""End to end: the sample site -> Chromium -> Ray actors -> Milvus Lite, tantivy, Redis.

A worker runs on its own thread (its stages on the session's Ray), syncs two sellers of
the sample site, and the API answers searches over what it made live.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.products import ProductStatus
from pipeline.records import Availability, ProductRecord
from pipeline.runtime import Runtime
from pipeline.sample_site.images import product_jpeg
from pipeline.sample_site.platforms import _id as _shop_id
from pipeline.sample_site.server import SampleSite
from pipeline.search import SearchFilters
from pipeline.search_setup import EmbedderQueryEncoder
from pipeline.settings import Settings
from pipeline.syncs import start_sync, sync_view
from pipeline.worker import BackgroundWorker
from serve.app import build_deps
from serve.deps import ApiDeps

pytestmark = pytest.mark.slow

RAVI = "919876543210"  # 14 goods, a 404 image, a pistol
CLAIRE = "33612345678"  # 9 goods, a zero price, THC gummies
JOE = "15551234567"  # 6 goods in USD
BULK = "10000000000"  # 10 goods here


@pytest.fixture(scope="module")
def site() -> Iterator[SampleSite]:
    with SampleSite(bulk_products=10) as running:
        yield running


@pytest.fixture(scope="module")
def e2e_settings(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, site: SampleSite
) -> Settings:
    return Settings.defaults().with_overrides(
        core={"data_dir": tmp_path_factory.mktemp("e2e-data")},
        redis={"url": redis_url},
        siglip={"model": "tiny", "cpus_per_replica": 0.5},
        jobs={"timeout": 60, "backoff_base": 0.2},
        catalog={"allowed_hosts": (site.netloc,)},
    )


@pytest.fixture(scope="module")
def worker(ray_session: object, e2e_settings: Settings) -> Iterator[BackgroundWorker]:
    client: redis.Redis = redis.Redis.from_url(str(e2e_settings.redis.url.get_secret_value()))  # type: ignore[union-attr]
    client.flushall()
    client.close()
    running = BackgroundWorker(e2e_settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api(
    worker: BackgroundWorker, e2e_settings: Settings
) -> Iterator[tuple[ApiDeps, asyncio.Runner]]:
    runner = asyncio.Runner()
    embedder = LocalSiglipEmbedder.from_settings(e2e_settings)
    deps = build_deps(e2e_settings, EmbedderQueryEncoder(embedder), Runtime(e2e_settings))
    yield deps, runner
    runner.run(deps.aclose())
    runner.run(embedder.aclose())
    runner.close()


def sync_and_wait(deps: ApiDeps, seller: str, url: str, timeout: float = 240) -> dict:  # type: ignore[type-arg]
    started = start_sync(deps.ledger, deps.redis, seller, url, check_url=deps.check_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = sync_view(deps.ledger, deps.redis, started.sync_id)
        assert view is not None
        if view["ended"]:
            return view
        time.sleep(0.25)
    raise AssertionError(f"sync of {seller} not finished in {timeout} s: {view}")


def search(api: tuple[ApiDeps, asyncio.Runner], q: str, **filters: str) -> list[str]:
    deps, runner = api
    resp = runner.run(deps.searcher.search_text(q, SearchFilters(**filters), limit=20))  # type: ignore[arg-type]
    return [hit.product_id for hit in resp.results]


def pid(seller: str, retailer: str) -> str:
    return ProductRecord.make_id(seller, retailer)


@pytest.fixture(scope="module")
def first_syncs(api: tuple[ApiDeps, asyncio.Runner], site: SampleSite) -> dict[str, dict]:  # type: ignore[type-arg]
    """Both sellers synced once (the sync views): what every re-sync test starts from,
    whichever test of the module runs first or alone."""
    deps, _ = api
    return {
        seller: sync_and_wait(deps, seller, f"{site.base_url}/c/{seller}")
        for seller in (RAVI, CLAIRE)
    }


def test_two_sellers_sync_to_live_products(
    api: tuple[ApiDeps, asyncio.Runner],
    site: SampleSite,
    first_syncs: dict[str, dict],  # type: ignore[type-arg]
) -> None:
    deps, _ = api
    ravi, claire = first_syncs[RAVI], first_syncs[CLAIRE]
    for view, listed in ((ravi, 16), (claire, 11)):
        assert view["state"] == "completed", view
        scrape = view["scrape"]
        assert scrape["found"] + scrape["skipped"] == listed, scrape
        assert view["stages"]["generate-embedding"]["total"] == scrape["found"]
    # The product whose photo is gone is reported with the reason, not dropped in silence;
    # nothing else failed.
    [skipped] = ravi["scrape"]["skipped_products"]
    assert skipped["source_url"].endswith("/ravi-404") and "404" in skipped["reason"]
    assert deps.ledger.dlq_list(seller_id=RAVI) == []
    assert ravi["products"] == {
        "live": 14, "rejected": 1, "flagged": 0, "failed": 0, "in_progress": 0
    }  # fmt: skip

    pistol = deps.products.get(pid(RAVI, "ravi-pistol"))
    assert pistol is not None and pistol.status is ProductStatus.REJECTED and not pistol.live
    gummies = deps.products.get(pid(CLAIRE, "cl-gummies"))
    assert gummies is not None and gummies.status is not ProductStatus.APPROVED
    free = deps.products.get(pid(CLAIRE, "cl-free"))
    assert free is not None and not free.live

    ravi_first = site.catalog.seller(RAVI).products[0]  # type: ignore[union-attr]
    assert pid(RAVI, ravi_first.retailer_id) in search(api, ravi_first.name)
    assert pid(RAVI, "ravi-pistol") not in search(api, "pistol rounds")
    assert deps.ledger.check_invariants() == []


def test_resync_of_an_unchanged_catalog_embeds_and_checks_nothing(
    api: tuple[ApiDeps, asyncio.Runner],
    site: SampleSite,
    first_syncs: dict[str, dict],  # type: ignore[type-arg]
) -> None:
    deps, _ = api
    view = sync_and_wait(deps, CLAIRE, f"{site.base_url}/c/{CLAIRE}")
    assert view["state"] == "completed"
    assert view["scrape"]["changed"] == 0
    assert view["stages"]["generate-embedding"]["total"] == 0
    assert view["stages"]["quality-control"]["total"] == 0


def test_a_product_removed_from_the_site_disappears_after_resync(
    api: tuple[ApiDeps, asyncio.Runner],
    site: SampleSite,
    first_syncs: dict[str, dict],  # type: ignore[type-arg]
) -> None:
    deps, _ = api
    gone = site.catalog.seller(CLAIRE).products[1]  # type: ignore[union-attr]
    gone_id = pid(CLAIRE, gone.retailer_id)
    assert gone_id in search(api, gone.name)
    site.catalog.remove(CLAIRE, gone.retailer_id)
    view = sync_and_wait(deps, CLAIRE, f"{site.base_url}/c/{CLAIRE}")
    assert view["scrape"]["removed"] == 1
    assert gone_id not in search(api, gone.name)
    assert deps.products.get(gone_id) is None
    assert deps.vectors.fetch([gone_id]) == []


def test_ray_serve_app_answers_over_http(
    worker: BackgroundWorker,
    e2e_settings: Settings,
    site: SampleSite,
    first_syncs: dict[str, dict],  # type: ignore[type-arg]
) -> None:
    """The deployed Serve application (ingress + @serve.batch encoder), over real HTTP."""
    from pipeline.local.services import free_port
    from serve.runner import start_api, stop_api

    url = start_api(e2e_settings, "127.0.0.1", free_port())
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if http.get("/readyz").status_code == 200:
                        break
                time.sleep(0.5)
            assert http.get("/readyz").json()["ready"] is True
            # In stock: an out-of-stock product ranks below every in-stock one, even its
            # own photo's exact match.
            ravi_first = next(
                p
                for p in site.catalog.seller(RAVI).products  # type: ignore[union-attr]
                if p.availability is not Availability.OUT_OF_STOCK
                and p.broken is None
                and p.policy is None
            )
            found = http.get("/v1/search", params={"q": ravi_first.name}).json()
            assert pid(RAVI, ravi_first.retailer_id) in [r["product_id"] for r in found["results"]]
            jpeg = product_jpeg(ravi_first.image_keys()[0], name=ravi_first.name)
            photo = http.post(
                "/v1/search/image", files={"image": ("p.jpg", jpeg, "image/jpeg")}
            ).json()
            assert photo["results"][0]["product_id"] == pid(RAVI, ravi_first.retailer_id)
            assert http.get("/docs").status_code == 200
    finally:
        stop_api()


@pytest.mark.parametrize(("platform", "seller", "count"), [("shopify", JOE, 6), ("woo", BULK, 10)])
def test_shopify_and_woocommerce_catalogs_sync_end_to_end(
    api: tuple[ApiDeps, asyncio.Runner], site: SampleSite, platform: str, seller: str, count: int
) -> None:
    """A shop's home URL: its platform's catalog JSON, read page by page, goes live."""
    deps, runner = api
    view = sync_and_wait(deps, f"{platform}-{seller}", f"{site.base_url}/{platform}/{seller}/")
    assert view["state"] == "completed", view
    assert view["scrape"]["found"] == count and view["scrape"]["skipped"] == 0, view["scrape"]
    assert view["products"]["live"] == count, view["products"]
    first = site.catalog.seller(seller).products[0]  # type: ignore[union-attr]
    # Shopify's listing id, WooCommerce's sku, as the platforms' JSON gives them.
    retailer = str(_shop_id(first)) if platform == "shopify" else first.retailer_id
    product = deps.products.get(pid(f"{platform}-{seller}", retailer))
    assert product is not None and product.live
    assert (product.record.name, product.record.price) == (first.name, first.price)
    # Searchable at once (the API's reader catches up with the generation the sync's last
    # product went live at), under the shop's own name (Shopify's meta.json, WordPress's
    # /wp-json/). Filtered to this seller: the module's other syncs read the same sample
    # catalog, so twenty equal names from other sellers may fill an unfiltered page.
    shop = site.catalog.seller(seller).name  # type: ignore[union-attr]
    only_this = SearchFilters(seller_id=f"{platform}-{seller}")
    hits = runner.run(deps.searcher.search_text(first.name, only_this, limit=20)).results
    assert product.record.product_id in {h.product_id for h in hits}
    assert {h.seller_name for h in hits} == {shop}
