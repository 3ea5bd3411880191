"""The search page's world: the real FastAPI app over HTTP on loopback (uvicorn in a thread)
with real Redis, Milvus Lite, tantivy and the tiny SigLIP model, populated with products of
the sample site (their image URLs point at it, allow-listed), plus a counting image host
for the thumbnail tests and a headless Debian Chromium driven by Playwright.

Everything here is package-scoped: Milvus Lite, the model and the browser start once for
all the tests of this folder.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.keyword.base import KeywordIndex
from pipeline.keyword.factory import open_keyword_index
from pipeline.products import ProductStatus
from pipeline.records import ProductRecord, QCDecision, QCVerdict
from pipeline.runtime import Runtime
from pipeline.sample_site import SampleSite
from pipeline.sample_site.images import CORRUPT_JPEG, product_jpeg
from pipeline.sample_site.pages import image_urls
from pipeline.search_setup import EmbedderQueryEncoder
from pipeline.settings import Settings
from pipeline.stages.index import keyword_doc
from pipeline.vectors.base import VectorRow
from serve.app import build_deps, create_api
from serve.deps import ApiDeps
from tests.appserver import ThreadedUvicorn
from tests.browser import chromium
from tests.sellerhost import SellerHost

SELLERS = ("15551234567", "33612345678", "919876543210")  # USD, EUR and INR shops
THUMB_SELLER = "thumbs"
REDIS_DB = 7  # a database of its own: other test folders flush and fill database 0


def photo(record: ProductRecord, key: str) -> bytes:
    """The JPEG embedded for a product: the one the sample site serves for it (drawn from
    its name), or for the thumbnail products the one the seller host serves (by key)."""
    return product_jpeg(key, name="" if record.seller_id == THUMB_SELLER else record.name)


@dataclass
class Product:
    record: ProductRecord
    image_key: str  # the sample-site image key whose JPEG was embedded

    @property
    def pid(self) -> str:
        return self.record.product_id

    @property
    def photo(self) -> bytes:
        return photo(self.record, self.image_key)


@dataclass
class WebWorld:
    base_url: str
    deps: ApiDeps
    settings: Settings
    site: SampleSite
    images: SellerHost
    blocked: SellerHost  # a loopback host that is NOT allow-listed
    products: dict[str, Product] = field(default_factory=dict)  # by retailer id

    def pid(self, retailer: str) -> str:
        return self.products[retailer].pid


def _records(
    site: SampleSite, images: SellerHost, blocked: SellerHost
) -> list[tuple[ProductRecord, str]]:
    out: list[tuple[ProductRecord, str]] = []
    for phone in SELLERS:
        seller = site.catalog.seller(phone)
        assert seller is not None
        for product in seller.products:
            if product.broken or product.policy:
                continue
            record = ProductRecord(
                product_id=ProductRecord.make_id(phone, product.retailer_id),
                seller_id=phone,
                retailer_id=product.retailer_id,
                name=product.name,
                description=product.description,
                price=product.price,
                currency=product.currency,
                image_urls=tuple(image_urls(site.base_url, phone, product)),
                source_url=f"{site.base_url}/p/{phone}/{product.retailer_id}",
                availability=product.availability,
            )
            out.append((record, product.image_keys()[0]))
    # The thumbnail products' images: drawn JPEGs, bytes that claim to be a JPEG and are
    # not, a 404, one on a host that is not allow-listed, one at a metadata address.
    thumbs = {
        "thumb-ok": images.serve("/img/thumb-ok.jpg", product_jpeg("thumb-ok")),
        "thumb-corrupt": images.serve("/corrupt.jpg", CORRUPT_JPEG),
        "thumb-gone": images.url("/img-gone.jpg"),
        "thumb-takedown": images.serve("/img/thumb-takedown.jpg", product_jpeg("thumb-takedown")),
        "thumb-private": blocked.serve("/img/thumb-private.jpg", product_jpeg("thumb-private")),
        "thumb-metadata": "http://169.254.169.254/latest/meta-data/photo.jpg",
    }
    for retailer, url in thumbs.items():
        record = ProductRecord(
            product_id=ProductRecord.make_id(THUMB_SELLER, retailer),
            seller_id=THUMB_SELLER,
            retailer_id=retailer,
            name=f"Zz test gadget {retailer}",
            price=None,
            image_urls=(url,),
            source_url=images.url("/"),
        )
        out.append((record, retailer))
    return out


async def _populate(
    deps: ApiDeps, writer: KeywordIndex, settings: Settings, items: list[tuple[ProductRecord, str]]
) -> None:
    embedder = LocalSiglipEmbedder.from_settings(settings)
    try:
        image_vectors = await embedder.embed_images([photo(record, key) for record, key in items])
        text_vectors = await embedder.embed_texts([record.name for record, _ in items])
    finally:
        await embedder.aclose()
    records = [record for record, _ in items]
    deps.products.put_many(records)
    verdict = QCVerdict(decision=QCDecision.APPROVED, model="test", policy_version="p1")
    rows = []
    for i, rec in enumerate(records):
        deps.products.set_status(rec.product_id, rec.content_hash, ProductStatus.APPROVED, verdict)
        stored = deps.products.get(rec.product_id)
        assert stored is not None
        writer.upsert([keyword_doc(stored)])
        deps.products.mark_indexed(rec.product_id, rec.content_hash)
        price = float(rec.price) if rec.price is not None else None
        rows.append(
            VectorRow(
                rec.product_id,
                rec.seller_id,
                "approved",
                price,
                rec.currency,
                image_vectors[i],
                text_vectors[i],
                rec.content_hash,
                time.time(),
            )  # fmt: skip
        )
    deps.vectors.upsert(rows)
    writer.refresh()
    deps.keywords.refresh()


@pytest.fixture(scope="package")
def web(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[WebWorld]:
    url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    site = SampleSite(bulk_products=0).start()
    images = SellerHost().start()
    blocked = SellerHost().start()
    settings = Settings.defaults().with_overrides(
        core={"data_dir": tmp_path_factory.mktemp("web-data")},
        redis={"url": url},
        siglip={"model": "tiny"},
        # High enough that a results page (a search and a dozen thumbnails) never hits it.
        api={"rate_limit_per_minute": 1_000_000},
        catalog={"allowed_hosts": (site.netloc, images.netloc), "fetch_timeout": 10.0},
    )
    writer = open_keyword_index(settings, writable=True)
    embedder = LocalSiglipEmbedder.from_settings(settings)
    deps = build_deps(settings, EmbedderQueryEncoder(embedder), Runtime(settings))
    # Closed by the app's lifespan, in the server's event loop, where it ran.
    deps.closers.append(embedder.aclose)
    items = _records(site, images, blocked)
    asyncio.run(_populate(deps, writer, settings, items))
    server = ThreadedUvicorn(create_api(deps)).start()
    world = WebWorld(server.base_url, deps, settings, site, images, blocked)
    world.products = {rec.retailer_id or "": Product(rec, key) for rec, key in items}
    yield world
    server.stop()
    writer.close()
    blocked.stop()
    images.stop()
    site.stop()


@pytest.fixture(scope="module")
def browser(web: WebWorld) -> Iterator[Any]:
    """Chromium for one test module. Module scope, and after ``web``: while Playwright's
    sync API is active its event loop counts as running in this thread, so no test of
    another module could ``asyncio.run`` then."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Any, web: WebWorld) -> Iterator[Any]:
    context = browser.new_context(base_url=web.base_url, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()
