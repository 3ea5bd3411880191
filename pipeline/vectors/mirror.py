"""``LiveVectorMirror``: the image vectors of live products in this process's memory.

A search asks the vector store for the nearest image vectors of approved products, and
Milvus Lite's filtered query is the slowest part of an uncached search (hundreds of ms at
10,000 rows on two cores). Search only ever returns *live* products, so each API replica
keeps their image vectors in one float32 matrix and answers with one matrix-vector
product, the same cosine ranking the store gives.

It follows the product store's change log (``RedisProductStore.changes_since``): every
write that can change whether a product is live bumps the search generation and records
the product under that generation, atomically. A search that sees a newer generation
applies the changes first (small deltas inline, under ``inline_limit`` products) or, while
a big catch-up (the first load, a large sync) runs in the background, falls back to the
vector store. Nothing is searched stale: the mirror answers only for the generation it has
applied, and the caller still checks liveness of every hit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pipeline.products import RedisProductStore
from pipeline.vectors.base import EMBED_DIM, VectorFilter, VectorHit, VectorStore

logger = logging.getLogger(__name__)

_NO_PRICE = np.nan  # comparisons with NaN are false: unpriced rows fail any price bound


class LiveVectorMirror:
    """Thread-safe; ``search`` returns None when the caller should ask the store instead."""

    def __init__(
        self,
        products: RedisProductStore,
        vectors: VectorStore,
        *,
        max_rows: int,
        inline_limit: int = 2_000,
        dim: int = EMBED_DIM,
    ) -> None:
        self._products = products
        self._vectors = vectors
        self.max_rows = max_rows
        self.inline_limit = inline_limit
        self._matrix = np.empty((0, dim), dtype=np.float32)
        self._price = np.empty(0, dtype=np.float64)
        self._seller = np.empty(0, dtype=np.int32)
        self._currency = np.empty(0, dtype=np.int32)
        self._ids: list[str] = []
        self._row_of: dict[str, int] = {}
        self._codes: dict[str, int] = {}  # seller ids and currencies share one code table
        self._cursor = 0  # the highest change applied
        self._applied_generation = -1
        self._disabled = max_rows <= 0
        self._data_lock = threading.Lock()  # the arrays: held by searches and by apply
        self._refresh_lock = threading.Lock()  # one catch-up at a time
        self._background: threading.Thread | None = None

    @property
    def size(self) -> int:
        return len(self._ids)

    def search(
        self,
        vector: npt.NDArray[np.float32],
        filters: VectorFilter,
        limit: int,
        generation: int,
    ) -> list[VectorHit] | None:
        """The ``limit`` live products nearest to ``vector`` by cosine, or None when the
        mirror is not (yet) at ``generation`` or cannot express ``filters``."""
        if self._disabled or filters.status not in (None, "approved"):
            return None
        try:
            current = self._catch_up(generation)
        except Exception:  # Redis or the store failed mid catch-up: the store answers
            logger.warning("vector mirror: catch-up failed", exc_info=True)
            return None
        if not current:
            return None
        with self._data_lock:
            return self._nearest(vector, filters, limit)

    def image_vector(self, product_id: str, generation: int) -> npt.NDArray[np.float32] | None:
        """A live product's (unit) image vector as of ``generation``, or None when the
        mirror is not at it or does not hold the product (the store has the answer)."""
        if self._disabled:
            return None
        try:
            if not self._catch_up(generation):
                return None
        except Exception:  # as in search: the store answers
            logger.warning("vector mirror: catch-up failed", exc_info=True)
            return None
        with self._data_lock:
            row = self._row_of.get(product_id)
            return None if row is None else self._matrix[row].copy()

    def _nearest(
        self, vector: npt.NDArray[np.float32], filters: VectorFilter, limit: int
    ) -> list[VectorHit]:
        count = len(self._ids)
        mask = np.ones(count, dtype=bool)
        for value, codes in ((filters.seller_id, self._seller), (filters.currency, self._currency)):
            if value is not None:
                code = self._codes.get(value)
                if code is None:
                    return []
                mask &= codes[:count] == code
        if filters.min_price is not None:
            mask &= self._price[:count] >= float(filters.min_price)
        if filters.max_price is not None:
            mask &= self._price[:count] <= float(filters.max_price)
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return []
        query = _unit(np.asarray(vector, dtype=np.float32))
        matrix = self._matrix[:count] if rows.size == count else self._matrix[rows]
        scores = matrix @ query
        k = min(limit, rows.size)
        top = np.argpartition(-scores, k - 1)[:k] if k < rows.size else np.arange(rows.size)
        ranked = sorted(top.tolist(), key=lambda i: (-scores[i], self._ids[rows[i]]))
        return [VectorHit(product_id=self._ids[rows[i]], score=float(scores[i])) for i in ranked]

    def _catch_up(self, generation: int) -> bool:
        """True when the changes up to ``generation`` are applied (doing it inline if
        the delta is small), False while a background catch-up is needed or running."""
        if generation <= self._applied_generation:
            return True
        if self._background is not None and self._background.is_alive():
            return False
        pending = self._products.change_count(self._cursor)
        if pending > self.inline_limit:
            self._background = threading.Thread(
                target=self._refresh_logged, args=(generation,), name="vector-mirror", daemon=True
            )
            self._background.start()
            return False
        self.refresh(generation)
        return not self._disabled

    def _refresh_logged(self, generation: int) -> None:
        try:
            self.refresh(generation)
        except Exception:  # searches fall back to the store; the next one retries
            logger.warning("vector mirror: catch-up failed", exc_info=True)

    def refresh(self, generation: int) -> None:
        """Apply every change recorded after the cursor, now (a load before serving).
        ``generation`` is read before the change log, so every change up to it is in
        what is read here."""
        with self._refresh_lock:
            if generation <= self._applied_generation:
                return
            changes = self._products.changes_since(self._cursor)
            stale: list[str] = []
            # Read after the changes: a trim in between shows here, so no removal is missed.
            if 0 < self._cursor < self._products.changes_floor():
                # Removals the log no longer holds: start over from the whole log and drop
                # the rows it does not name.
                changes = self._products.changes_since(0)
                named = {pid for pid, _ in changes}
                stale = [pid for pid in self._ids if pid not in named]
            cursor = max((score for _, score in changes), default=self._cursor)
            ids = [pid for pid, _ in changes]
            live = self._products.live_hashes(ids)
            rows = {r.product_id: r for r in self._vectors.fetch(sorted(live))} if live else {}
            with self._data_lock:
                for pid in stale:
                    self._drop(pid)
                for pid in ids:
                    row = rows.get(pid)
                    # A row of another version is a newer upload on its way: it comes back
                    # through the log when it goes live.
                    if row is not None and row.content_hash == live.get(pid):
                        self._put(pid, row.image_vector, row.seller_id, row.currency, row.price)
                    else:
                        self._drop(pid)
                self._cursor = cursor
                self._applied_generation = generation
                if len(self._ids) > self.max_rows:
                    self._disable()
            if ids:
                logger.info("vector mirror: %s change(s) applied, %s live rows", len(ids),
                            len(self._ids))  # fmt: skip

    def _disable(self) -> None:
        logger.warning("vector mirror: over %s live rows (API_SEARCH_MIRROR_MAX_ROWS); "
                       "searching the vector store instead", self.max_rows)  # fmt: skip
        self._disabled = True
        self._matrix = self._matrix[:0]
        self._ids, self._row_of = [], {}

    def _code(self, value: str | None) -> int:
        if value is None:
            return -1
        return self._codes.setdefault(value, len(self._codes))

    def _put(
        self,
        pid: str,
        vector: npt.NDArray[np.float32],
        seller: str,
        currency: str | None,
        price: float | None,
    ) -> None:
        row = self._row_of.get(pid)
        if row is None:
            row = len(self._ids)
            if row == self._matrix.shape[0]:
                self._grow(max(1_024, row * 2))
            self._ids.append(pid)
            self._row_of[pid] = row
        self._matrix[row] = _unit(vector)
        self._seller[row] = self._code(seller)
        self._currency[row] = self._code(currency)
        self._price[row] = _NO_PRICE if price is None else price

    def _drop(self, pid: str) -> None:
        """Remove by moving the last row into the hole (order carries no meaning)."""
        row = self._row_of.pop(pid, None)
        if row is None:
            return
        last = len(self._ids) - 1
        if row != last:
            moved = self._ids[last]
            self._ids[row] = moved
            self._row_of[moved] = row
            for array in (self._matrix, self._price, self._seller, self._currency):
                array[row] = array[last]
        self._ids.pop()

    def _grow(self, capacity: int) -> None:
        def grown(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
            bigger = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
            bigger[: array.shape[0]] = array
            return bigger

        self._matrix = grown(self._matrix)  # type: ignore[assignment]
        self._price = grown(self._price)  # type: ignore[assignment]
        self._seller = grown(self._seller)  # type: ignore[assignment]
        self._currency = grown(self._currency)  # type: ignore[assignment]


def _unit(vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


__all__: Sequence[str] = ("LiveVectorMirror",)
