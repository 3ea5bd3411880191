"""``MilvusVectorStore``: product vectors in Milvus, a server or the embedded Milvus Lite.

The same class talks to a Milvus server (``MILVUS_URI=http://...``) and to the shared
``milvus-lite server`` child of :mod:`pipeline.local.milvus` (the default): both speak
Milvus's gRPC API. Writes are batched; reads use Strong consistency. On Milvus Lite,
reads and :meth:`flush` seal pending writes first (Lite only keeps and searches sealed
data reliably); a server has logged each write in its WAL before it acknowledges it, so
there :meth:`flush` has nothing to do (a Milvus flush takes seconds: it seals segments).
The collections' layout (one, or one per vector kind on Milvus 2.3) is chosen at start-up
and logged: see :mod:`pipeline.vectors.milvus_layout`.

Library errors become ours at this boundary: invalid rows or filters raise
PermanentError before anything is sent; a server that does not answer or fails raises
BackendUnavailable (retryable).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pymilvus import DataType, MilvusClient, MilvusException

from pipeline.backends import vector_backend
from pipeline.errors import BackendUnavailable, ConfigError, PermanentError
from pipeline.local.services import LocalService
from pipeline.settings import Settings, VectorBackend
from pipeline.vectors.base import EMBED_DIM, VectorFilter, VectorHit, VectorRow
from pipeline.vectors.milvus_bulk import seal_and_index
from pipeline.vectors.milvus_layout import Layout, choose_layout, decode_nulls, encode_nulls
from pipeline.vectors.milvus_schema import (
    SCALAR_FIELDS,
    VECTOR_FIELDS,
    IndexChoice,
    build_schema,
    check_id,
    check_status,
    check_vector,
    choose_index,
    entity_to_row,
    filter_expression,
    quote,
    row_to_entity,
)

logger = logging.getLogger(__name__)

MAX_LIMIT = 1_000
_QUERY_CHUNK = 500  # ids per query/delete expression: keeps expressions short


class MilvusVectorStore:
    """Implements :class:`~pipeline.vectors.base.VectorStore`. Thread-safe for one client."""

    def __init__(
        self,
        uri: str,
        *,
        token: str | None = None,
        collection: str = "products",
        dim: int = EMBED_DIM,
        index: IndexChoice | None = None,
        lite: bool = False,
        layout: str = "auto",
        upsert_batch: int = 500,
        timeout: float = 60.0,
        service: LocalService | None = None,
    ) -> None:
        """Connect and make sure the collection exists with the expected fields.

        Raises BackendUnavailable when Milvus does not answer, ConfigError when an existing
        collection of that name has other fields or another dimension.
        """
        self.uri = uri
        self.collection = collection
        self.dim = dim
        self.lite = lite
        self.index = index or choose_index("AUTO", lite=lite)
        self.upsert_batch = upsert_batch
        self.timeout = timeout
        self._service = service
        # Writes are counted, not flagged: a write that lands while another thread's flush
        # is in flight must still be sealed by the next flush (a flag cleared by that
        # flush would let the writer ack a row Milvus Lite drops on restart).
        self._writes = 0
        self._sealed = 0
        self._count_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        with self._translate("connect"):
            self._client = MilvusClient(uri=uri, token=token or "", timeout=timeout)
            version = "" if lite else str(self._client.get_server_version())
            existing = None
            if self._client.has_collection(collection):
                info = self._client.describe_collection(collection)
                existing = {f["name"]: f for f in info.get("fields", [])}
        self.layout: Layout = choose_layout(
            layout, collection=collection, lite=lite, version_text=version,
            existing_fields=existing,
        )  # fmt: skip
        logger.info(
            "vector layout %s (%s) at %s: %s",
            self.layout.kind,
            ", ".join(self.layout.names),
            uri,
            self.layout.reason,
        )
        self._ensure_collections()

    @classmethod
    def from_settings(cls, settings: Settings) -> MilvusVectorStore:
        """The Milvus server at ``MILVUS_URI`` or the shared Milvus Lite of ``DATA_DIR``, as
        ``VECTOR_BACKEND`` says (pipeline/backends.py).

        A Lite server started here is stopped by :meth:`close`; one found running is kept.
        """
        cfg = settings.milvus
        service = None
        if vector_backend(settings) is VectorBackend.MILVUS:
            assert cfg.uri is not None  # vector_backend checked it
            uri, lite = str(cfg.uri).rstrip("/"), False
        else:
            from pipeline.local.milvus import local_milvus

            service = local_milvus(settings.data_dir.resolve(), settings.core.idle_stop_s)
            uri, lite = f"http://127.0.0.1:{service.ensure()}", True
        index = choose_index(
            cfg.index_type,
            lite=lite,
            hnsw_m=cfg.hnsw_m,
            ef_construction=cfg.hnsw_ef_construction,
            ef=cfg.search_ef,
        )
        try:
            return cls(
                uri,
                token=cfg.token.get_secret_value() if cfg.token else None,
                collection=cfg.collection,
                index=index,
                lite=lite,
                upsert_batch=cfg.upsert_batch,
                timeout=cfg.timeout,
                service=service,
            )
        except Exception:
            if service is not None:
                service.close()
            raise

    @contextlib.contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        try:
            yield
        except MilvusException as exc:
            if "released" in str(exc) or "not loaded" in str(exc):
                # A restarted server comes back with the collection released: load it
                # again so that the retry of this call (the ledger's) finds it loaded.
                for name in self.layout.names:
                    with contextlib.suppress(Exception):
                        self._client.load_collection(name)
            raise BackendUnavailable(f"Milvus {what} failed: {exc}") from exc
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise BackendUnavailable(f"Milvus {what}: {exc}") from exc

    def _ensure_collections(self) -> None:
        for name in self.layout.names:
            fields = self.layout.fields_of(name)
            with self._translate("create collection"):
                if self._client.has_collection(name):
                    self._check_existing(name, fields)
                else:
                    self._create(name, fields)
                self._client.load_collection(name)

    def _create(self, name: str, fields: tuple[str, ...]) -> None:
        params = self._client.prepare_index_params()
        for field in fields:
            params.add_index(
                field,
                index_name=field,
                index_type=self.index.index_type,
                metric_type=self.index.metric,
                params=self.index.build,
            )
        if self.layout.scalar_index:
            for scalar in ("seller_id", "status"):
                params.add_index(scalar, index_type="INVERTED")
        schema = build_schema(MilvusClient, DataType, self.dim, fields, self.layout.nullable)
        self._client.create_collection(name, schema=schema, index_params=params)
        logger.info(
            "created collection %s (%s on %s, dim %s) at %s",
            name,
            self.index.index_type,
            ", ".join(fields),
            self.dim,
            self.uri,
        )

    def _check_existing(self, name: str, vector_fields: tuple[str, ...]) -> None:
        info = self._client.describe_collection(name)
        fields = {f["name"]: f for f in info.get("fields", [])}
        missing = set(SCALAR_FIELDS + vector_fields) - set(fields)
        if missing:
            raise ConfigError(f"Milvus collection {name!r} exists without fields {sorted(missing)}")
        for field in vector_fields:
            dim = int(fields[field].get("params", {}).get("dim", -1))
            if dim != self.dim:
                raise ConfigError(
                    f"Milvus collection {name!r}: {field} has dim {dim}, "
                    f"the embedder gives {self.dim}"
                )

    def upsert(self, rows: list[VectorRow]) -> None:
        """Insert or replace rows by product id, in batches; the last of duplicate ids wins.

        Raises PermanentError (before writing anything) when a row is invalid.
        """
        entities = {
            row.product_id: encode_nulls(row_to_entity(row, self.dim), self.layout) for row in rows
        }
        batch = list(entities.values())
        with self._translate("upsert"):
            # The image collection last: it is the one counted and searched by default.
            for name in reversed(self.layout.names):
                leave_out = set(VECTOR_FIELDS) - set(self.layout.fields_of(name))
                part = [{k: v for k, v in e.items() if k not in leave_out} for e in batch]
                for start in range(0, len(part), self.upsert_batch):
                    self._client.upsert(name, part[start : start + self.upsert_batch])
                    self._wrote()

    def delete(self, product_ids: list[str]) -> None:
        ids = [check_id(pid) for pid in product_ids]
        with self._translate("delete"):
            for name in self.layout.names:
                for start in range(0, len(ids), _QUERY_CHUNK):
                    self._client.delete(name, ids=ids[start : start + _QUERY_CHUNK])
                    self._wrote()

    def delete_seller(self, seller_id: str) -> None:
        expr = f"seller_id == {quote(check_id(seller_id, 'seller id'))}"
        with self._translate("delete seller"):
            for name in self.layout.names:
                self._client.delete(name, filter=expr)
                self._wrote()

    def set_status(self, product_ids: list[str], status: str) -> None:
        """Change the QC status of existing rows; unknown ids are ignored.

        Milvus has no portable partial update (Lite lacks it), so rows are read and
        written back whole.
        """
        check_status(status)
        rows = self.fetch(product_ids)
        if rows:
            self.upsert([_with_status(row, status) for row in rows])

    def _wrote(self) -> None:
        with self._count_lock:
            self._writes += 1

    def flush(self) -> None:
        """Make every write that returned before this call survive a restart: on Milvus
        Lite, seal them (done before each search and read too); a Milvus server logged
        them in its WAL before acknowledging, so nothing is left to do there."""
        if not self.lite:
            return
        with self._flush_lock:
            with self._count_lock:
                target = self._writes
            if target == self._sealed:
                return
            with self._translate("flush"):
                for name in self.layout.names:
                    self._client.flush(name, timeout=self.timeout)
            self._sealed = target

    @contextlib.contextmanager
    def bulk_load(self, index_timeout: float = 1_800.0) -> Iterator[None]:
        """Load many rows at once (an import, a benchmark): ``with store.bulk_load():
        store.upsert(...)``. Searches fail until it ends: use it where nothing serves.

        On a server the collections are released during the load, so that no query node
        consumes the inserts into growing segments (with interim indexes on 2.3) and
        reloads each segment as it seals, on the cores the insert and the index build
        need. On exit every growing segment is sealed once and small segments merged, the
        store waits until the vector indexes cover every row (pipeline/vectors/milvus_bulk.py)
        and loads the collections again. On Milvus Lite it seals once at the end. Raises
        BackendUnavailable when the indexes are not built within ``index_timeout``.
        """
        if self.lite:
            yield
            self.flush()
            return
        with self._translate("release"):
            for name in self.layout.names:
                self._client.release_collection(name)
        try:
            yield
            with self._translate("seal"):
                seal_and_index(
                    self._client, self.layout, self.timeout, time.monotonic() + index_timeout
                )
        finally:
            with self._translate("load"):
                for name in self.layout.names:
                    self._client.load_collection(name, timeout=index_timeout)

    def search(
        self,
        vector: npt.NDArray[np.float32],
        *,
        field: str = "image_vector",
        filters: VectorFilter | None = None,
        limit: int = 10,
    ) -> list[VectorHit]:
        """Top ``limit`` rows by cosine similarity that pass ``filters`` (approved by default).

        Raises PermanentError for a bad field, limit, vector or filter value.
        """
        if field not in VECTOR_FIELDS:
            raise PermanentError(f"field must be one of {VECTOR_FIELDS}, got {field!r}")
        if not 1 <= limit <= MAX_LIMIT:
            raise PermanentError(f"limit must be 1-{MAX_LIMIT}, got {limit}")
        query = check_vector(vector, self.dim, "query vector")
        expr = filter_expression(filters if filters is not None else VectorFilter())
        params: dict[str, Any] = {
            "metric_type": self.index.metric,
            "params": dict(self.index.search),
        }
        if "ef" in params["params"]:
            params["params"]["ef"] = max(int(params["params"]["ef"]), limit)
        self.flush()
        started = time.perf_counter()
        with self._translate("search"):
            result = self._client.search(
                self.layout.collections[field],
                data=[query.tolist()],
                anns_field=field,
                filter=expr,
                limit=limit,
                output_fields=["seller_id", "status", "price", "currency", "content_hash"],
                search_params=params,
                # Strong makes a server wait for its next time tick (200 ms apart: ~190 ms
                # per search measured on 2.3); Session still shows this client its own
                # writes, others' within a tick, and every hit's liveness is checked by the
                # caller. Fetch and count stay Strong: stages read each other's writes.
                consistency_level="Strong" if self.lite else "Session",
            )
        hits = [
            VectorHit(
                product_id=str(hit["id"] if "id" in hit else hit["product_id"]),
                score=float(hit["distance"]),
                fields=decode_nulls(dict(hit.get("entity", {}))),
            )
            for hit in result[0]
        ]
        logger.debug("search %s %r: %s hits in %.1f ms", field, expr, len(hits),
                     (time.perf_counter() - started) * 1000)  # fmt: skip
        return hits

    def fetch(self, product_ids: list[str]) -> list[VectorRow]:
        """Rows for the ids that exist (in every collection of the layout), in the order
        asked."""
        ids = list(dict.fromkeys(check_id(pid) for pid in product_ids))
        parts: list[dict[str, dict[str, Any]]] = []
        self.flush()
        with self._translate("fetch"):
            for name in self.layout.names:
                wanted = SCALAR_FIELDS + self.layout.fields_of(name)
                found: dict[str, dict[str, Any]] = {}
                for start in range(0, len(ids), _QUERY_CHUNK):
                    for entity in self._client.query(
                        name,
                        ids=ids[start : start + _QUERY_CHUNK],
                        output_fields=list(wanted),
                        consistency_level="Strong",
                    ):
                        found[str(entity["product_id"])] = dict(entity)
                parts.append(found)
        rows = []
        for pid in ids:
            if all(pid in part for part in parts):
                merged = {k: v for part in reversed(parts) for k, v in part[pid].items()}
                rows.append(entity_to_row(decode_nulls(merged)))
        return rows

    def count(self) -> int:
        self.flush()
        with self._translate("count"):
            result = self._client.query(
                self.layout.names[0],
                filter="",
                output_fields=["count(*)"],
                consistency_level="Strong",
            )
        return int(result[0]["count(*)"]) if result else 0

    def drop(self) -> None:
        """Delete the store's collections (tests and benchmarks; irreversible)."""
        with self._translate("drop"):
            for name in self.layout.names:
                self._client.drop_collection(name)

    def close(self) -> None:
        """Seal what is pending and close the client; a Lite server this store started is
        stopped too."""
        with contextlib.suppress(Exception):
            self.flush()
        with contextlib.suppress(Exception):
            self._client.close()
        if self._service is not None:
            self._service.close()
            self._service = None


def _with_status(row: VectorRow, status: str) -> VectorRow:
    from dataclasses import replace

    return replace(row, status=status, updated_at=time.time())


def open_vector_store(settings: Settings) -> MilvusVectorStore:
    """The vector store the settings describe (see :meth:`MilvusVectorStore.from_settings`)."""
    return MilvusVectorStore.from_settings(settings)


__all__: Sequence[str] = ("MilvusVectorStore", "open_vector_store")
