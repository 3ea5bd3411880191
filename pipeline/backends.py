"""Which backend serves each role: decided here, once, from the named settings.

``VECTOR_BACKEND``, ``KEYWORD_BACKEND`` and ``QC_BACKEND`` name the implementation;
``auto`` (the default) keeps the old rule, "the URL or key that is set decides". Every
place that builds or reports a backend asks these functions, never the URL itself. An
explicit choice without what it needs is a ConfigError at start-up
(:func:`check_backends`, called by ``load_settings``); an unknown name already is one.
"""

from __future__ import annotations

from pipeline.errors import ConfigError
from pipeline.settings import KeywordBackend, QCBackend, Settings, VectorBackend


def vector_backend(settings: Settings) -> VectorBackend:
    """``milvus`` or ``milvus-lite``. Raises ConfigError: ``milvus`` without ``MILVUS_URI``."""
    chosen = settings.backends.vector_backend
    if chosen is VectorBackend.AUTO:
        return (
            VectorBackend.MILVUS if settings.milvus.uri is not None else VectorBackend.MILVUS_LITE
        )
    if chosen is VectorBackend.MILVUS and settings.milvus.uri is None:
        raise ConfigError("VECTOR_BACKEND=milvus needs MILVUS_URI")
    return chosen


def keyword_backend(settings: Settings) -> KeywordBackend:
    """``elasticsearch`` or ``tantivy``. Raises ConfigError: ``elasticsearch`` without
    ``ELASTICSEARCH_URL``."""
    chosen = settings.backends.keyword_backend
    if chosen is KeywordBackend.AUTO:
        has_url = settings.elasticsearch.url is not None
        return KeywordBackend.ELASTICSEARCH if has_url else KeywordBackend.TANTIVY
    if chosen is KeywordBackend.ELASTICSEARCH and settings.elasticsearch.url is None:
        raise ConfigError("KEYWORD_BACKEND=elasticsearch needs ELASTICSEARCH_URL")
    return chosen


def qc_backend(settings: Settings) -> QCBackend:
    """``gemini`` or ``local``. Raises ConfigError: ``gemini`` without ``GEMINI_API_KEY``."""
    chosen = settings.backends.qc_backend
    if chosen is QCBackend.AUTO:
        return QCBackend.GEMINI if settings.gemini.api_key is not None else QCBackend.LOCAL
    if chosen is QCBackend.GEMINI and settings.gemini.api_key is None:
        raise ConfigError("QC_BACKEND=gemini needs GEMINI_API_KEY")
    return chosen


def check_backends(settings: Settings) -> None:
    """Resolve every backend once, so a choice that cannot work stops the start.
    Raises ConfigError naming the setting."""
    vector_backend(settings)
    keyword_backend(settings)
    qc_backend(settings)
