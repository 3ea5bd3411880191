"""Picks the keyword index from settings: Elasticsearch when ``ELASTICSEARCH_URL`` is set,
else the embedded tantivy index under ``DATA_DIR/keyword``.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.keyword.base import KeywordIndex
from pipeline.settings import Settings


def embedded_index_path(settings: Settings) -> Path:
    return settings.data_dir / "keyword" / "tantivy"


def open_keyword_index(settings: Settings, *, writable: bool = True) -> KeywordIndex:
    """The configured index. Embedded: ``writable=True`` only in the one process that owns
    the index (it takes the writer lock); everyone else opens it read-only.

    Raises BackendUnavailable when the embedded writer lock is held by another process or
    the index directory cannot be used; a reader that starts first gets an empty index.
    """
    if settings.elasticsearch.url is not None:
        from pipeline.keyword.elasticsearch_index import ElasticsearchKeywordIndex

        index = ElasticsearchKeywordIndex(settings.elasticsearch)
        index.ensure()
        return index
    from pipeline.keyword.tantivy_index import TantivyKeywordIndex

    return TantivyKeywordIndex(embedded_index_path(settings), writable=writable)
