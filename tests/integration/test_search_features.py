"""The search API's shopper features over real Redis, Milvus Lite and tantivy: typo and
language-aware matching, facets over the whole result set, highlighting, "did you mean",
sorts (one currency and several) and suggestions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis

from pipeline.embedding.local import LocalSiglipEmbedder
from pipeline.keyword.factory import open_keyword_index
from pipeline.products import ProductStatus
from pipeline.records import Availability, ProductRecord, QCDecision, QCVerdict
from pipeline.runtime import Runtime
from pipeline.search_setup import EmbedderQueryEncoder
from pipeline.settings import Settings
from pipeline.stages.index import keyword_doc
from serve.app import build_deps, create_api
from serve.deps import ApiDeps

# retailer id, seller, name, description, price, currency, availability
CATALOG = [
    ("w1", "s1", "Carteira de couro", "Carteira de couro legítimo", "119.90", "BRL", "in_stock"),
    ("w2", "s1", "Carteira de couro preta", "Couro <b>bovino</b>", "289.00", "BRL", "in_stock"),
    ("w3", "s2", "Carteira de couro slim", "Couro macio", "59.00", "BRL", "out_of_stock"),
    ("w4", "s2", "Leather wallet", "Brown leather wallet", "35.00", "USD", "in_stock"),
    ("w5", "s2", "Leather card wallet", "Slim leather wallet", "15.00", "USD", "unknown"),
    ("b1", "s3", "Pão francês", "Pão crocante da padaria", "1.50", "BRL", "in_stock"),
    ("c1", "s3", "Cheval en bois", "Un cheval en bois pour enfants", "40.00", "EUR", "in_stock"),
]


def make_record(row: tuple[str, ...]) -> ProductRecord:
    retailer, seller, name, description, price, currency, availability = row
    return ProductRecord(
        product_id=ProductRecord.make_id(seller, retailer),
        seller_id=seller,
        retailer_id=retailer,
        name=name,
        description=description,
        price=Decimal(price),
        currency=currency,
        availability=Availability(availability),
        source_url=f"http://shop.example/c/{seller}",
    )


class Client:
    def __init__(self, client: httpx.AsyncClient, runner: asyncio.Runner, deps: ApiDeps):
        self.client, self.runner, self.deps = client, runner, deps

    def get(self, url: str, **params: Any) -> Any:
        response = self.runner.run(self.client.get(url, params=params))
        assert response.status_code == 200, response.text
        return response.json()

    def status(self, url: str, **params: Any) -> int:
        return self.runner.run(self.client.get(url, params=params)).status_code


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Client]:
    own_db = redis_url.rsplit("/", 1)[0] + "/9"  # past queries and products of our own
    redis.Redis.from_url(own_db).flushdb()
    settings = Settings.defaults().with_overrides(
        core={"data_dir": tmp_path_factory.mktemp("search-features")},
        redis={"url": own_db},
        siglip={"model": "tiny"},
        api={"search_cache_ttl": 0},
    )
    with asyncio.Runner() as runner:
        writer = open_keyword_index(settings, writable=True)
        embedder = LocalSiglipEmbedder.from_settings(settings)
        deps = build_deps(settings, EmbedderQueryEncoder(embedder), Runtime(settings))
        records = [make_record(row) for row in CATALOG]
        deps.products.put_many(records)
        verdict = QCVerdict(decision=QCDecision.APPROVED, model="test", policy_version="p1")
        for rec in records:
            deps.products.set_status(
                rec.product_id, rec.content_hash, ProductStatus.APPROVED, verdict
            )
            stored = deps.products.get(rec.product_id)
            assert stored is not None
            writer.upsert([keyword_doc(stored)])
            deps.products.mark_indexed(rec.product_id, rec.content_hash)
        writer.refresh()
        deps.keywords.refresh()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_api(deps)), base_url="http://api.test"
        )
        yield Client(client, runner, deps)
        runner.run(client.aclose())
        runner.run(deps.aclose())
        runner.run(embedder.aclose())
        writer.close()


def names(body: dict[str, Any]) -> list[str]:
    return [hit["name"] for hit in body["results"]]


def test_typo_finds_and_did_you_mean_names_the_catalog_word(api: Client) -> None:
    body = api.get("/v1/search", q="carteria")
    assert names(body) and all("Carteira" in n for n in names(body))
    assert body["did_you_mean"] == "carteira"
    assert "<mark>Carteira</mark>" in body["results"][0]["highlight"]["name"]
    assert api.get("/v1/search", q="carteira")["did_you_mean"] is None


def test_two_typos_in_a_word_the_catalog_lacks_are_marked_and_corrected(api: Client) -> None:
    body = api.get("/v1/search", q="crtiera")  # carteira with a letter dropped, two swapped
    assert names(body) and all("Carteira" in n for n in names(body))
    assert body["did_you_mean"] == "carteira"
    assert "<mark>Carteira</mark>" in body["results"][0]["highlight"]["name"]


def test_inflections_and_accents_across_languages(api: Client) -> None:
    assert names(api.get("/v1/search", q="paes")) == ["Pão francês"]
    assert names(api.get("/v1/search", q="chevaux")) == ["Cheval en bois"]
    highlight = api.get("/v1/search", q="chevaux")["results"][0]["highlight"]
    assert highlight["name"] == "<mark>Cheval</mark> en bois"  # the stem is marked


def test_highlight_escapes_html_but_keeps_mark(api: Client) -> None:
    body = api.get("/v1/search", q="bovino")
    description = body["results"][0]["highlight"]["description"]
    assert description == "Couro &lt;b&gt;<mark>bovino</mark>&lt;/b&gt;"
    assert "highlight" in body["results"][0]
    plain = api.get("/v1/search", q="bovino", highlight="false")
    assert plain["results"][0]["highlight"] is None


def test_facets_count_the_whole_result_set_not_the_page(api: Client) -> None:
    body = api.get(
        "/v1/search", q="couro leather", limit=1, facets="seller_id,currency,price,availability"
    )
    assert len(body["results"]) == 1
    facets = body["facets"]
    assert {f["value"]: f["count"] for f in facets["currency"]} == {"BRL": 3, "USD": 2}
    assert {f["value"]: f["count"] for f in facets["seller_id"]} == {"s1": 2, "s2": 3}
    assert {f["value"]: f["count"] for f in facets["availability"]} == {
        "in_stock": 3,
        "out_of_stock": 1,
        "unknown": 1,
    }
    price = facets["price"]
    assert {b["currency"] for b in price} == {"BRL", "USD"}  # buckets never mix currencies
    assert sum(b["count"] for b in price if b["currency"] == "BRL") == 3
    assert all(b["to"] is None or Decimal(b["from"]) < Decimal(b["to"]) for b in price)


def test_unknown_facet_is_422(api: Client) -> None:
    assert api.status("/v1/search", q="couro", facets="color") == 422
    assert api.status("/v1/search", q="couro", sort="cheapest") == 422


def test_price_sort_is_exact_within_one_currency(api: Client) -> None:
    body = api.get("/v1/search", q="carteira couro", currency="BRL", sort="price_asc")
    assert [hit["price"] for hit in body["results"]] == ["59.00", "119.90", "289.00"]
    body = api.get("/v1/search", q="carteira couro", currency="BRL", sort="price_desc")
    assert [hit["price"] for hit in body["results"]] == ["289.00", "119.90", "59.00"]


def test_price_sort_groups_several_currencies(api: Client) -> None:
    body = api.get("/v1/search", q="couro leather wallet", sort="price_asc")
    pairs = [(hit["currency"], Decimal(hit["price"])) for hit in body["results"]]
    # BRL has more products: its group first, each group in price order
    assert pairs == [
        ("BRL", Decimal("59.00")),
        ("BRL", Decimal("119.90")),
        ("BRL", Decimal("289.00")),
        ("USD", Decimal("15.00")),
        ("USD", Decimal("35.00")),
    ]


def test_newest_sort_puts_the_last_changed_first(api: Client) -> None:
    body = api.get("/v1/search", q="carteira", sort="newest")
    assert names(body)[0] == "Carteira de couro slim"  # indexed last among the carteiras


def test_suggest_completes_names_and_frequent_queries(api: Client) -> None:
    assert "Carteira de couro" in api.get("/v1/suggest", q="cart")["suggestions"]
    assert "Carteira de couro" in api.get("/v1/suggest", q="carteri")["suggestions"]  # typo
    for _ in range(2):
        api.get("/v1/search", q="leather wallet")
    suggestions = api.get("/v1/suggest", q="leat", limit=3)["suggestions"]
    assert suggestions[0] == "leather wallet" and len(suggestions) <= 3
    assert api.status("/v1/suggest", q="") == 422
    assert api.status("/v1/suggest", q="x", limit=100) == 422


def test_openapi_documents_the_new_fields(api: Client) -> None:
    schema = api.get("/openapi.json")
    params = {p["name"] for p in schema["paths"]["/v1/search"]["get"]["parameters"]}
    assert {"facets", "sort", "highlight"} <= params
    assert "/v1/suggest" in schema["paths"]
    components = schema["components"]["schemas"]
    assert {"facets", "did_you_mean"} <= set(components["SearchOut"]["properties"])
    assert "highlight" in components["SearchHitOut"]["properties"]
