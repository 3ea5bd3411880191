"""Backends are named by settings: ``auto`` keeps the old rule (the URL or key that is set
decides), an explicit name wins over it, and a name that cannot work stops the start."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.backends import keyword_backend, qc_backend, vector_backend
from pipeline.errors import ConfigError
from pipeline.keyword.factory import open_keyword_index
from pipeline.keyword.tantivy_index import TantivyKeywordIndex
from pipeline.settings import KeywordBackend, QCBackend, Settings, VectorBackend, load_settings

BARE = Settings.defaults()
URLS = BARE.with_overrides(
    milvus={"uri": "http://127.0.0.1:19530"},
    elasticsearch={"url": "http://127.0.0.1:9200"},
    gemini={"api_key": "k"},
)


def test_auto_decides_from_what_is_set() -> None:
    assert vector_backend(BARE) is VectorBackend.MILVUS_LITE
    assert keyword_backend(BARE) is KeywordBackend.TANTIVY
    assert qc_backend(BARE) is QCBackend.LOCAL
    assert vector_backend(URLS) is VectorBackend.MILVUS
    assert keyword_backend(URLS) is KeywordBackend.ELASTICSEARCH
    assert qc_backend(URLS) is QCBackend.GEMINI


def test_an_explicit_name_wins_over_a_url_that_is_set(tmp_path: Path) -> None:
    chosen = URLS.with_overrides(
        core={"data_dir": tmp_path},
        backends={"vector_backend": "milvus-lite", "keyword_backend": "tantivy",
                  "qc_backend": "local"},
    )  # fmt: skip
    assert vector_backend(chosen) is VectorBackend.MILVUS_LITE
    assert qc_backend(chosen) is QCBackend.LOCAL
    index = open_keyword_index(chosen)  # the embedded index, not the cluster at the URL
    try:
        assert isinstance(index, TantivyKeywordIndex)
    finally:
        index.close()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("VECTOR_BACKEND", "pinecone", "VECTOR_BACKEND"),
        ("KEYWORD_BACKEND", "solr", "KEYWORD_BACKEND"),
        ("QC_BACKEND", "gpt", "QC_BACKEND"),
        ("VECTOR_BACKEND", "milvus", "VECTOR_BACKEND=milvus needs MILVUS_URI"),
        ("KEYWORD_BACKEND", "elasticsearch", "needs ELASTICSEARCH_URL"),
        ("QC_BACKEND", "gemini", "QC_BACKEND=gemini needs GEMINI_API_KEY"),
    ],
)
def test_a_backend_that_cannot_work_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    for name in ("MILVUS_URI", "ELASTICSEARCH_URL", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_defaults_read_nothing_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILVUS_URI", "http://10.0.0.1:19530")
    monkeypatch.setenv("GEMINI_API_KEY", "from-the-shell")
    monkeypatch.setenv("REDIS_NAMESPACE", "shell")
    settings = Settings.defaults().with_overrides(siglip={"model": "tiny"})
    assert settings.milvus.uri is None and settings.gemini.api_key is None
    assert settings.redis.namespace == "cs"
