"""The embedded keyword index: tantivy (Rust BM25) in a directory on disk.

Chosen over SQLite FTS5 by ``benchmarks/qc_index.py`` (see docs/qc_keyword.md): faster
filtered queries at 100,000 products and a real analysis chain (Unicode letters and marks,
so Devanagari stays whole; accent folding; an English-stemmed copy of each text field).

One writer: tantivy holds a lock file in the directory, so exactly one process (the actor
that owns the index) opens it with ``writable=True``; a second writer gets
BackendUnavailable. Readers open it with ``writable=False``; their searcher follows the
writer's commits on its own shortly after each commit, and :meth:`refresh` reloads at
once (tests and read-your-writes callers use it).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import tantivy

from pipeline.errors import BackendUnavailable, PermanentError
from pipeline.keyword.base import (
    BulkResult,
    KeywordDoc,
    KeywordFilter,
    KeywordHit,
    check_ids,
    check_search_args,
    doc_problem,
    scaled_price,
)

logger = logging.getLogger(__name__)

_TOKEN_RE = r"[\p{L}\p{M}\p{N}]+"  # letters with their combining marks: Hindi words stay whole
_MAX_QUERY_TERMS = 32
# field -> (analyzer, boost). The stemmed copies widen recall; the exact fields rank first.
_TEXT_FIELDS = {
    "name": ("catalog", 3.0),
    "name_en": ("catalog_en", 1.5),
    "description": ("catalog", 1.0),
    "description_en": ("catalog_en", 0.5),
}
_RAW_FIELDS = ("product_id", "seller_id", "status", "currency")


def _analyzer(stem: bool) -> tantivy.TextAnalyzer:
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(_TOKEN_RE))
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
    )
    if stem:
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("product_id", stored=True, tokenizer_name="raw")
    for raw in _RAW_FIELDS[1:]:
        sb.add_text_field(raw, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("price", indexed=True, fast=True)
    for name, (analyzer, _) in _TEXT_FIELDS.items():
        sb.add_text_field(name, tokenizer_name=analyzer)
    sb.add_text_field("content_hash", stored=True, tokenizer_name="raw", index_option="basic")
    return sb.build()


def _open_or_create(path: Path) -> tantivy.Index:
    try:
        if path.is_dir() and tantivy.Index.exists(str(path)):
            return tantivy.Index.open(str(path))
        path.mkdir(parents=True, exist_ok=True)
        # reuse: if another process created it since our check, open theirs.
        return tantivy.Index(_schema(), path=str(path), reuse=True)
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"cannot open keyword index {path}: {exc}") from exc


class TantivyKeywordIndex:
    """BM25 over product name and description, with seller/status/currency/price filters."""

    def __init__(self, path: Path, *, writable: bool = True, heap_bytes: int = 64_000_000) -> None:
        """Opens the index at ``path``, creating an empty one if there is none yet (so a
        reader may start before the writer).

        Raises BackendUnavailable when another process holds the writer lock or the
        directory cannot be used.
        """
        self._path = path
        self._lock = threading.Lock()
        self._analyzers = {"catalog": _analyzer(False), "catalog_en": _analyzer(True)}
        self._index = _open_or_create(path)
        for name, analyzer in self._analyzers.items():
            self._index.register_tokenizer(name, analyzer)
        self._schema = self._index.schema
        self._writer: Any = None
        if writable:
            try:
                self._writer = self._index.writer(heap_size=heap_bytes, num_threads=1)
            except ValueError as exc:
                raise BackendUnavailable(
                    f"keyword index {path} already has a writer (one writer per index): {exc}"
                ) from exc
        else:
            # Readers follow the writer's commits by themselves; refresh() forces it.
            self._index.config_reader(reload_policy="OnCommit")

    def upsert(self, docs: list[KeywordDoc]) -> BulkResult:
        """Adds or replaces documents by product id; invalid ones are reported, not indexed."""
        writer = self._require_writer()
        errors: dict[str, str] = {}
        indexed = 0
        with self._lock:
            for doc in docs:
                problem = doc_problem(doc)
                if problem is not None:
                    errors[doc.product_id[:140]] = problem
                    continue
                writer.delete_documents_by_term("product_id", doc.product_id)
                writer.add_document(self._document(doc))
                indexed += 1
            self._commit(writer)
        if errors:
            logger.warning("keyword upsert: %d indexed, %d rejected", indexed, len(errors))
        return BulkResult(indexed=indexed, errors=errors)

    def delete(self, product_ids: list[str]) -> None:
        """Deletes by product id; unknown ids are ignored. Raises PermanentError on a bad id."""
        check_ids(product_ids)
        writer = self._require_writer()
        with self._lock:
            for product_id in product_ids:
                writer.delete_documents_by_term("product_id", product_id)
            self._commit(writer)

    def delete_seller(self, seller_id: str) -> None:
        check_ids([seller_id])
        writer = self._require_writer()
        with self._lock:
            writer.delete_documents_by_term("seller_id", seller_id)
            self._commit(writer)

    def search(
        self, query: str, *, filters: KeywordFilter | None = None, limit: int = 10, offset: int = 0
    ) -> list[KeywordHit]:
        """BM25 hits, best first. A query with no words matches nothing.

        Raises PermanentError when the query or paging breaks a size limit.
        """
        check_search_args(query, limit, offset)
        text_query = self._text_query(query)
        if text_query is None:
            return []
        clauses = [(tantivy.Occur.Must, text_query)]
        # Filters score 0 so they narrow the result without changing the BM25 order.
        clauses += [
            (tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0))
            for q in self._filter_queries(filters if filters is not None else KeywordFilter())
        ]
        searcher = self._index.searcher()
        result = searcher.search(
            tantivy.Query.boolean_query(clauses), limit, count=False, offset=offset
        )
        return [
            KeywordHit(product_id=searcher.doc(address)["product_id"][0], score=float(score))
            for score, address in result.hits
        ]

    def refresh(self) -> None:
        """Makes every committed change visible to this process's searches now."""
        self._index.reload()

    def count(self) -> int:
        return int(self._index.searcher().num_docs)

    def close(self) -> None:
        """Releases the writer lock (waiting for merges) so another process may write."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.wait_merging_threads()

    def _require_writer(self) -> Any:
        if self._writer is None:
            raise PermanentError(f"keyword index {self._path} is open read-only or closed")
        return self._writer

    def _commit(self, writer: Any) -> None:
        writer.commit()
        self._index.reload()

    def _document(self, doc: KeywordDoc) -> tantivy.Document:
        fields: dict[str, Any] = {
            "product_id": doc.product_id,
            "seller_id": doc.seller_id,
            "status": doc.status,
            "name": doc.name,
            "name_en": doc.name,
            "description": doc.description,
            "description_en": doc.description,
            "content_hash": doc.content_hash,
        }
        if doc.currency is not None:
            fields["currency"] = doc.currency
        if doc.price is not None:
            fields["price"] = scaled_price(doc.price)
        return tantivy.Document(**fields)

    def _text_query(self, query: str) -> tantivy.Query | None:
        # The user's words become term queries: no query syntax, so nothing to inject.
        should: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for field, (analyzer, boost) in _TEXT_FIELDS.items():
            terms = dict.fromkeys(self._analyzers[analyzer].analyze(query))
            for term in list(terms)[:_MAX_QUERY_TERMS]:
                term_query = tantivy.Query.term_query(self._schema, field, term)
                should.append((tantivy.Occur.Should, tantivy.Query.boost_query(term_query, boost)))
        return tantivy.Query.boolean_query(should) if should else None

    def _filter_queries(self, filters: KeywordFilter) -> list[tantivy.Query]:
        queries = [
            tantivy.Query.term_query(self._schema, field, value)
            for field, value in (
                ("status", filters.status),
                ("seller_id", filters.seller_id),
                ("currency", filters.currency),
            )
            if value is not None
        ]
        if filters.min_price is not None or filters.max_price is not None:
            low = (
                scaled_price(filters.min_price, round_up=True)
                if filters.min_price is not None
                else 0
            )
            high = scaled_price(filters.max_price) if filters.max_price is not None else 2**62
            queries.append(
                tantivy.Query.range_query(
                    self._schema, "price", tantivy.FieldType.Integer, low, high
                )
            )
        return queries
