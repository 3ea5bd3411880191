"""Keyword index fixtures: every implementation behind one ``keyword_index`` fixture.

Set ``ELASTICSEARCH_URL`` to run the same contract tests against a real cluster too (each
test uses its own index name and drops it afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.keyword.base import KeywordIndex
from pipeline.keyword.elasticsearch_index import ElasticsearchKeywordIndex
from pipeline.keyword.sqlite_index import SqliteKeywordIndex
from pipeline.keyword.tantivy_index import TantivyKeywordIndex
from pipeline.settings import ElasticsearchSettings
from tests.keyword.fake_es import FakeElasticsearch

BACKENDS = ["tantivy", "sqlite", "elasticsearch-fake"]
if os.environ.get("ELASTICSEARCH_URL"):
    BACKENDS.append("elasticsearch-live")


@pytest.fixture
def fake_es() -> Iterator[FakeElasticsearch]:
    server = FakeElasticsearch().start()
    yield server
    server.stop()


def es_settings(url: str, **fields: object) -> ElasticsearchSettings:
    base = {"url": url, "index": f"test-{uuid.uuid4().hex[:10]}", "max_retries": 2}
    return ElasticsearchSettings.model_validate({**base, **fields})


@pytest.fixture(params=BACKENDS)
def keyword_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeywordIndex]:
    backend: str = request.param
    index: KeywordIndex
    if backend == "tantivy":
        index = TantivyKeywordIndex(tmp_path / "tantivy", heap_bytes=15_000_000)
    elif backend == "sqlite":
        index = SqliteKeywordIndex(tmp_path / "fts.db")
    elif backend == "elasticsearch-fake":
        server = FakeElasticsearch().start()
        request.addfinalizer(server.stop)
        index = ElasticsearchKeywordIndex(es_settings(server.url))
    else:
        index = ElasticsearchKeywordIndex(es_settings(os.environ["ELASTICSEARCH_URL"]))
    yield index
    if backend == "elasticsearch-live":
        assert isinstance(index, ElasticsearchKeywordIndex)
        index.drop()
    index.close()
