"""The embedded keyword index's one writer, as a named Ray actor shared by every worker.

tantivy allows one writer per index directory, so the index is owned by a single actor
(``get_if_exists``: the first worker on a Ray cluster creates it, later ones find it;
it lives as long as the worker that created it).
:class:`RayKeywordIndex` is the callers' side: the ``KeywordIndex`` protocol over that
actor, every call bounded by a timeout. With Elasticsearch configured no actor is needed:
each worker talks to the cluster directly.
"""

from __future__ import annotations

import hashlib
from typing import Any

import ray

from pipeline.backends import keyword_backend
from pipeline.errors import BackendUnavailable
from pipeline.keyword.base import BulkResult, KeywordDoc, KeywordFilter, KeywordHit, KeywordIndex
from pipeline.keyword.factory import embedded_index_path, open_keyword_index
from pipeline.settings import KeywordBackend, Settings

WRITER_NAME = "catalog-sync-keyword-writer"
WRITER_NAMESPACE = "catalog-sync"


class KeywordWriter:
    """Runs in its own process as :data:`KeywordWriterActor`; owns the writable index."""

    def __init__(self, settings: Settings) -> None:
        self._index = open_keyword_index(settings, writable=True)

    def upsert(self, docs: list[KeywordDoc]) -> BulkResult:
        return self._index.upsert(docs)

    def delete(self, product_ids: list[str]) -> None:
        self._index.delete(product_ids)

    def delete_seller(self, seller_id: str) -> None:
        self._index.delete_seller(seller_id)

    def search(
        self, query: str, filters: KeywordFilter | None, limit: int, offset: int
    ) -> list[KeywordHit]:
        return self._index.search(query, filters=filters, limit=limit, offset=offset)

    def refresh(self) -> None:
        self._index.refresh()

    def count(self) -> int:
        return self._index.count()

    def close(self) -> None:
        self._index.close()


KeywordWriterActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=3)(KeywordWriter)


class RayKeywordIndex:
    """``KeywordIndex`` over the shared writer actor."""

    def __init__(self, handle: Any, timeout: float = 60.0) -> None:
        self._handle = handle
        self._timeout = timeout

    @classmethod
    def start(cls, settings: Settings, timeout: float = 60.0) -> KeywordIndex:
        """The writer actor of this Ray cluster (created if absent), or Elasticsearch."""
        if keyword_backend(settings) is not KeywordBackend.TANTIVY:
            return open_keyword_index(settings)  # a cluster needs no single writer
        # One writer per index directory: the name says which directory it owns.
        path = str(embedded_index_path(settings).resolve())
        name = f"{WRITER_NAME}-{hashlib.sha256(path.encode()).hexdigest()[:12]}"
        # A fixed namespace: each worker process is its own Ray job with an anonymous
        # namespace, where a name alone would give every worker a writer of its own.
        handle = KeywordWriterActor.options(
            name=name, namespace=WRITER_NAMESPACE, get_if_exists=True
        ).remote(settings)
        index = cls(handle, timeout)
        index.count()  # fail here, clearly, if the writer cannot open the index
        return index

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return ray.get(getattr(self._handle, method).remote(*args), timeout=self._timeout)
        except ray.exceptions.GetTimeoutError as exc:
            raise BackendUnavailable(
                f"keyword writer: {method} took over {self._timeout} s"
            ) from exc
        except ray.exceptions.RayActorError as exc:
            raise BackendUnavailable(f"keyword writer unavailable: {exc}") from exc
        except ray.exceptions.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None  # type: ignore[no-untyped-call]

    def upsert(self, docs: list[KeywordDoc]) -> BulkResult:
        result: BulkResult = self._call("upsert", docs)
        return result

    def delete(self, product_ids: list[str]) -> None:
        self._call("delete", product_ids)

    def delete_seller(self, seller_id: str) -> None:
        self._call("delete_seller", seller_id)

    def search(
        self,
        query: str,
        *,
        filters: KeywordFilter | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[KeywordHit]:
        hits: list[KeywordHit] = self._call("search", query, filters, limit, offset)
        return hits

    def refresh(self) -> None:
        self._call("refresh")

    def count(self) -> int:
        return int(self._call("count"))

    def close(self) -> None:
        """The writer outlives this caller (other workers share it); nothing to close."""
