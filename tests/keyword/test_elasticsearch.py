"""The Elasticsearch adapter against a local server speaking the REST API: what goes on the
wire (template, NDJSON bulk, query DSL), retries, error translation and the alias swap."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pipeline.errors import BackendUnavailable, ConfigError, PermanentError, RetryableError
from pipeline.keyword.base import KeywordFilter
from pipeline.keyword.elasticsearch_index import ElasticsearchKeywordIndex
from pipeline.settings import Settings
from tests.keyword.conftest import es_settings
from tests.keyword.fake_es import FakeElasticsearch
from tests.keyword.test_contract import doc


def bodies(fake: FakeElasticsearch, suffix: str) -> list[bytes]:
    return [body for _, path, _, body in fake.requests if path.split("?")[0].endswith(suffix)]


def test_template_mapping_fits_product_text(fake_es: FakeElasticsearch) -> None:
    index = ElasticsearchKeywordIndex(es_settings(fake_es.url, index="shop"))
    index.ensure()
    template = fake_es.templates["shop-template"]
    assert template["index_patterns"] == ["shop-*"]
    props = template["template"]["mappings"]["properties"]
    assert props["price"] == {"type": "scaled_float", "scaling_factor": 100}
    assert props["name"]["fields"]["en"]["analyzer"] == "product_text_en"
    analyzer = template["template"]["settings"]["analysis"]["analyzer"]["product_text"]
    assert analyzer["filter"] == ["lowercase", "asciifolding"]
    (concrete,) = fake_es.aliases["shop"]
    assert concrete.startswith("shop-")
    index.ensure()  # idempotent: no second index
    assert len(fake_es.indices) == 1
    index.close()


def test_icu_setting_switches_the_analyzer(fake_es: FakeElasticsearch) -> None:
    index = ElasticsearchKeywordIndex(es_settings(fake_es.url, index="icu", icu=True))
    index.ensure()
    analyzer = fake_es.templates["icu-template"]["template"]["settings"]["analysis"]["analyzer"]
    assert analyzer["product_text"]["tokenizer"] == "icu_tokenizer"
    index.close()


def test_bulk_is_ndjson_through_the_alias(fake_es: FakeElasticsearch) -> None:
    index = ElasticsearchKeywordIndex(es_settings(fake_es.url, index="shop"))
    index.upsert([doc("p1", "Lamp", price="12.3456"), doc("p2", "Chair", price=None)])
    (body,) = bodies(fake_es, "/_bulk")
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert lines[0] == {"index": {"_index": "shop", "_id": "p1"}}
    assert lines[1]["price"] == "12.3456" and lines[1]["name"] == "Lamp"
    assert lines[3]["price"] is None
    headers = next(h for _, path, h, _ in fake_es.requests if "/_bulk" in path)
    assert "x-ndjson" in {k.lower(): v for k, v in headers.items()}["content-type"]
    index.close()


def test_a_bulk_returns_once_its_changes_are_searchable(fake_es: FakeElasticsearch) -> None:
    # Products are marked live after the upsert returns, and answers are cached under
    # that generation: the bulk waits for the next refresh (without forcing one).
    index = ElasticsearchKeywordIndex(es_settings(fake_es.url, index="shop"))
    index.upsert([doc("p1", "Lamp")])
    path = next(path for _, path, _, _ in fake_es.requests if "/_bulk" in path)
    assert "refresh=wait_for" in path
    assert [h.product_id for h in index.search("lamp")] == ["p1"]  # no refresh() called
    index.delete(["p1"])
    assert index.search("lamp") == []
    index.close()


def test_query_dsl_scores_text_and_filters_in_filter_context(fake_es: FakeElasticsearch) -> None:
    index = ElasticsearchKeywordIndex(es_settings(fake_es.url, index="shop"))
    index.search(
        "red shoes",
        filters=KeywordFilter(seller_id="s-1", min_price=Decimal("1.5"), currency="EUR"),
        limit=5,
        offset=10,
    )
    (body,) = [json.loads(b) for b in bodies(fake_es, "/_search")]
    assert body["from"] == 10 and body["size"] == 5 and body["_source"] is False
    exact, fuzzy, sku = body["query"]["bool"]["should"]
    match = exact["multi_match"]
    assert match["query"] == "red shoes" and "name^3" in match["fields"]
    assert "name.pt^1.5" in match["fields"] and "fuzziness" not in match
    assert fuzzy["multi_match"]["fuzziness"] == "AUTO:5,9"
    assert fuzzy["multi_match"]["fuzzy_transpositions"] is True
    assert sku == {"term": {"sku": {"value": "red shoes", "boost": 20.0}}}
    assert body["query"]["bool"]["minimum_should_match"] == 1
    assert body["query"]["bool"]["filter"] == [
        {"term": {"status": "approved"}},
        {"term": {"seller_id": "s-1"}},
        {"term": {"currency": "EUR"}},
        {"range": {"price": {"gte": "1.5"}}},
    ]
    index.close()


def test_rejected_document_is_reported_and_the_rest_land(fake_es: FakeElasticsearch) -> None:
    fake_es.reject_ids = {"p2"}
    index = ElasticsearchKeywordIndex(es_settings(fake_es.url))
    result = index.upsert([doc("p1", "lamp"), doc("p2", "chair"), doc("p3", "desk")])
    assert result.indexed == 2
    assert list(result.errors) == ["p2"]
    assert result.errors["p2"].startswith("document_parsing_exception")
    index.refresh()
    assert index.count() == 2
    index.close()


def test_items_throttled_with_429_are_retried_by_the_bulk_helper(
    fake_es: FakeElasticsearch,
) -> None:
    fake_es.throttle_once = {"p2"}
    index = ElasticsearchKeywordIndex(es_settings(fake_es.url))
    result = index.upsert([doc("p1", "lamp"), doc("p2", "chair")])
    assert result.indexed == 2 and result.errors == {}
    assert len(bodies(fake_es, "/_bulk")) == 2  # the second carries p2 only
    assert b'"p1"' not in bodies(fake_es, "/_bulk")[1]
    index.close()


def test_503_is_retried_by_the_transport_then_succeeds(fake_es: FakeElasticsearch) -> None:
    index = ElasticsearchKeywordIndex(es_settings(fake_es.url, max_retries=2))
    index.ensure()
    fake_es.fail_next = [503, 429]
    assert index.upsert([doc("p1", "lamp")]).indexed == 1
    index.close()


def test_persistent_503_is_retryable(fake_es: FakeElasticsearch) -> None:
    index = ElasticsearchKeywordIndex(es_settings(fake_es.url, max_retries=1))
    index.ensure()
    fake_es.fail_next = [503, 503]
    with pytest.raises(RetryableError, match="503"):
        index.search("lamp")
    index.close()


def test_400_is_permanent(fake_es: FakeElasticsearch) -> None:
    index = ElasticsearchKeywordIndex(es_settings(fake_es.url))
    index.ensure()
    fake_es.fail_next = [400]
    with pytest.raises(PermanentError, match="400"):
        index.count()
    index.close()


def test_server_without_product_header_is_refused() -> None:
    impostor = FakeElasticsearch(product_header=False).start()
    try:
        index = ElasticsearchKeywordIndex(es_settings(impostor.url))
        with pytest.raises(ConfigError, match="X-Elastic-Product"):
            index.ensure()
        index.close()
    finally:
        impostor.stop()


def test_unreachable_cluster_is_backend_unavailable(fake_es: FakeElasticsearch) -> None:
    url = fake_es.url
    fake_es.stop()
    index = ElasticsearchKeywordIndex(es_settings(url, max_retries=0, request_timeout=2))
    with pytest.raises(BackendUnavailable):
        index.ensure()
    index.close()


def test_reindex_swaps_the_alias_atomically(fake_es: FakeElasticsearch) -> None:
    index = ElasticsearchKeywordIndex(es_settings(fake_es.url, index="shop"))
    index.upsert([doc("old", "old lamp")])
    index.refresh()
    (before,) = fake_es.aliases["shop"]
    result = index.reindex([doc("new-1", "new lamp"), doc("new-2", "new chair")])
    assert result.indexed == 2
    (after,) = fake_es.aliases["shop"]
    assert after != before and before not in fake_es.indices
    # One _aliases call holds both the remove and the add.
    assert fake_es.alias_actions[-1] == [
        {"remove": {"index": before, "alias": "shop"}},
        {"add": {"index": after, "alias": "shop", "is_write_index": True}},
    ]
    assert sorted(h.product_id for h in index.search("lamp")) == ["new-1"]
    index.close()


def test_factory_picks_elasticsearch_when_url_set(
    fake_es: FakeElasticsearch, settings: Settings
) -> None:
    from pipeline.keyword.factory import open_keyword_index

    configured = settings.with_overrides(elasticsearch={"url": fake_es.url, "index": "fac"})
    index = open_keyword_index(configured)
    assert isinstance(index, ElasticsearchKeywordIndex)
    assert "fac" in fake_es.aliases
    index.close()
