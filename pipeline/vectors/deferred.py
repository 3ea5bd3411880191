"""``DeferredVectorStore``: a vector store opened on its first call.

A one-shot search in the CLI often needs no vectors at all (words with the tiny model are
answered by BM25 alone), and opening the store means starting or reaching a Milvus
server, seconds and hundreds of MB for the embedded one. This holds the opener and runs
it when a call first needs the store; :meth:`close` closes only what was opened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from pipeline.vectors.base import VectorFilter, VectorHit, VectorRow, VectorStore


class DeferredVectorStore:
    """A :class:`VectorStore` that opens the real one (``open_store()``) on first use;
    the opener's errors (BackendUnavailable ...) surface from that first call."""

    def __init__(self, open_store: Callable[[], VectorStore]) -> None:
        self._open = open_store
        self._store: VectorStore | None = None
        self._lock = threading.Lock()  # searches run in worker threads

    @property
    def opened(self) -> bool:
        return self._store is not None

    def _get(self) -> VectorStore:
        with self._lock:
            if self._store is None:
                self._store = self._open()
            return self._store

    def upsert(self, rows: list[VectorRow]) -> None:
        self._get().upsert(rows)

    def delete(self, product_ids: list[str]) -> None:
        self._get().delete(product_ids)

    def delete_seller(self, seller_id: str) -> None:
        self._get().delete_seller(seller_id)

    def set_status(self, product_ids: list[str], status: str) -> None:
        self._get().set_status(product_ids, status)

    def search(
        self,
        vector: npt.NDArray[np.float32],
        *,
        field: str = "image_vector",
        filters: VectorFilter | None = None,
        limit: int = 10,
    ) -> list[VectorHit]:
        return self._get().search(vector, field=field, filters=filters, limit=limit)

    def fetch(self, product_ids: list[str]) -> list[VectorRow]:
        return self._get().fetch(product_ids)

    def count(self) -> int:
        return self._get().count()

    def flush(self) -> None:
        self._get().flush()

    def close(self) -> None:
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()
