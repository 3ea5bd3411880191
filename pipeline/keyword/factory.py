"""Builds the keyword index ``KEYWORD_BACKEND`` names (pipeline/backends.py): Elasticsearch,
or the embedded tantivy index under ``DATA_DIR/keyword``.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.backends import keyword_backend
from pipeline.keyword.base import KeywordIndex
from pipeline.settings import KeywordBackend, Settings


def embedded_index_path(settings: Settings) -> Path:
    return settings.data_dir / "keyword" / "tantivy"


def open_keyword_index(settings: Settings, *, writable: bool = True) -> KeywordIndex:
    """The configured index. Embedded: ``writable=True`` only in the one process that owns
    the index (it takes the writer lock); everyone else opens it read-only.

    Raises BackendUnavailable when the embedded writer lock is held by another process or
    the index directory cannot be used; a reader that starts first gets an empty index.
    """
    if keyword_backend(settings) is KeywordBackend.ELASTICSEARCH:
        from pipeline.keyword.elasticsearch_index import ElasticsearchKeywordIndex

        index = ElasticsearchKeywordIndex(settings.elasticsearch)
        index.ensure()
        return index
    from pipeline.keyword.tantivy_index import TantivyKeywordIndex

    return TantivyKeywordIndex(embedded_index_path(settings), writable=writable)
