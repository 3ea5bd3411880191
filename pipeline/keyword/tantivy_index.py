"""The embedded keyword index: tantivy (Rust BM25) in a directory on disk.

Chosen over SQLite FTS5 by ``benchmarks/qc_index.py`` (see docs/qc_keyword.md): faster
filtered queries at 100,000 products and a real analysis chain (Unicode letters and marks,
so Devanagari stays whole; accent folding). Each text field has a stemmed copy in the
product's own language (``analysis.py``); query words also match within a few edits
(typo tolerance, ranked below exact and stemmed matches), and an exact SKU comes first.

One writer: tantivy holds a lock file in the directory, so exactly one process (the actor
that owns the index) opens it with ``writable=True``; a second writer gets
BackendUnavailable. Readers open it with ``writable=False``; their searcher follows the
writer's commits on its own shortly after each commit, and :meth:`refresh` reloads at
once (tests and read-your-writes callers use it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import tantivy

from pipeline import facets
from pipeline.errors import BackendUnavailable, PermanentError
from pipeline.keyword import analysis
from pipeline.keyword.base import (
    PRICE_SCALE,
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
# Exact (folded) fields: (boost, fuzzy boost). Fuzzy matches score a constant times the
# fuzzy boost, below what an exact name match scores, so exact forms rank first.
_EXACT_FIELDS = {"name": (3.0, 0.75), "description": (1.0, 0.25)}
# Stemmed fields (pre-analyzed in Python, see analysis.py): field -> boost.
_STEM_FIELDS = {"name_stem": 1.5, "description_stem": 0.5}
_SKU_BOOST = 20.0  # an exact SKU outranks any text match
_FAST_RAW = ("seller_id", "currency", "availability")


def _analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(_TOKEN_RE))
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("product_id", stored=True, tokenizer_name="raw")
    sb.add_text_field("status", tokenizer_name="raw", index_option="basic")
    for raw in _FAST_RAW:
        sb.add_text_field(raw, tokenizer_name="raw", index_option="basic", fast=True)
    sb.add_text_field("sku", tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("price", indexed=True, fast=True)
    sb.add_text_field("name", stored=True, tokenizer_name="catalog")
    sb.add_text_field("description", tokenizer_name="catalog")
    for name in _STEM_FIELDS:
        sb.add_text_field(name, tokenizer_name="stems")
    sb.add_text_field("language", stored=True, tokenizer_name="raw", index_option="basic")
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


def _check_schema(schema: tantivy.Schema, path: Path) -> None:
    """An index written before language-aware analysis lacks the stemmed fields; its
    queries would fail one by one, so refuse it at once with what to do."""
    try:
        tantivy.Query.term_query(schema, "name_stem", "x")
    except ValueError as exc:
        raise BackendUnavailable(
            f"keyword index {path} predates the stemmed fields: delete the directory and "
            "re-sync the sellers to rebuild it"
        ) from exc


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
        self._catalog = _analyzer()
        self._index = _open_or_create(path)
        self._index.register_tokenizer("catalog", self._catalog)
        self._index.register_tokenizer(
            "stems", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
        )
        self._schema = self._index.schema
        _check_schema(self._schema, path)
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
        searcher = self._index.searcher()
        text_query = self._text_query(query, searcher)
        if text_query is None:
            return []
        clauses = [(tantivy.Occur.Must, text_query)]
        # Filters score 0 so they narrow the result without changing the BM25 order.
        clauses += [
            (tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0))
            for q in self._filter_queries(filters if filters is not None else KeywordFilter())
        ]
        result = searcher.search(
            tantivy.Query.boolean_query(clauses), limit, count=False, offset=offset
        )
        return [
            KeywordHit(product_id=searcher.doc(address)["product_id"][0], score=float(score))
            for score, address in result.hits
        ]

    def facet_counts(
        self, query: str, filters: KeywordFilter, names: Sequence[str]
    ) -> dict[str, Any]:
        """Facets over every match of ``query`` (same shape as ``facets.facet_counts``),
        from fast fields: no document is loaded. Raises PermanentError on a bad query."""
        check_search_args(query, 1, 0)
        searcher = self._index.searcher()
        text_query = self._text_query(query, searcher)
        if text_query is None:
            return {name: [] for name in names}
        clauses = [(tantivy.Occur.Must, text_query)] + [
            (tantivy.Occur.Must, q) for q in self._filter_queries(filters)
        ]
        matches = tantivy.Query.boolean_query(clauses)
        terms = [n for n in names if n in _FAST_RAW]
        aggs: dict[str, Any] = {
            n: {"terms": {"field": n, "size": facets.MAX_VALUES}} for n in terms
        }
        if "price" in names:
            aggs["_price"] = {
                "terms": {"field": "currency", "size": 50},
                "aggs": {"top": {"max": {"field": "price"}}},
            }
        found = searcher.aggregate(matches, aggs) if aggs else {}
        out: dict[str, Any] = {
            n: [{"value": b["key"], "count": b["doc_count"]} for b in found[n]["buckets"]]
            for n in terms
        }
        if "price" in names:
            out["price"] = self._price_buckets(searcher, clauses, found["_price"]["buckets"])
        return {name: out[name] for name in names if name in out}

    def _price_buckets(
        self, searcher: Any, clauses: list[Any], currencies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for bucket in currencies:
            top = bucket["top"]["value"]
            if top is None:
                continue
            edges = facets.price_edges(Decimal(int(top)) / PRICE_SCALE)
            scaled = [scaled_price(edge) for edge in edges]
            ranges = [{"from": lo, "to": hi} for lo, hi in zip(scaled, scaled[1:], strict=False)]
            ranges.append({"from": scaled[-1]})
            currency = tantivy.Query.term_query(self._schema, "currency", bucket["key"])
            query = tantivy.Query.boolean_query([*clauses, (tantivy.Occur.Must, currency)])
            found = searcher.aggregate(
                query, {"r": {"range": {"field": "price", "ranges": ranges}}}
            )
            counts = [b["doc_count"] for b in found["r"]["buckets"] if b.get("from") is not None]
            rows.extend(facets.bucket_rows(bucket["key"], edges, counts))
        return rows

    def suggest(self, prefix: str, limit: int = 8) -> list[str]:
        """Names of approved products whose words start like ``prefix``: the last word as a
        prefix (one typo allowed from five letters), the words before it as in search.
        Names that start with the prefix come first, then shorter names."""
        words = list(self._catalog.analyze(prefix[:100]))[:8]
        if not words:
            return []
        *head, last = words
        clauses = [
            (
                tantivy.Occur.Must,
                tantivy.Query.fuzzy_term_query(
                    self._schema, "name", last, min(analysis.fuzzy_distance(last), 1), True, True
                ),
            )
        ]
        for word in head:
            distance = analysis.fuzzy_distance(word)
            clauses.append(
                (
                    tantivy.Occur.Must,
                    tantivy.Query.fuzzy_term_query(self._schema, "name", word, distance, True)
                    if distance
                    else tantivy.Query.term_query(self._schema, "name", word),
                )
            )
        clauses.append(
            (tantivy.Occur.Must, tantivy.Query.term_query(self._schema, "status", "approved"))
        )
        searcher = self._index.searcher()
        result = searcher.search(tantivy.Query.boolean_query(clauses), 64, count=False)
        names: dict[str, str] = {}
        for _, address in result.hits:
            name = searcher.doc(address)["name"][0]
            names.setdefault(analysis.fold(name), name)
        folded_prefix = " ".join(words)
        ranked = sorted(names, key=lambda n: (not n.startswith(folded_prefix), len(n), n))
        return [names[n] for n in ranked[:limit]]

    def refresh(self) -> None:
        """Makes every committed change visible to this process's searches now."""
        self._index.reload()

    def catch_up(self) -> None:
        """``refresh`` for a reader in another process (``FollowingReader``): ~0.1 ms
        at 100,000 products when nothing changed."""
        self.refresh()

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
        language = doc.language or analysis.detect_language(f"{doc.name}\n{doc.description}")
        fields: dict[str, Any] = {
            "product_id": doc.product_id,
            "seller_id": doc.seller_id,
            "status": doc.status,
            "availability": doc.availability,
            "name": doc.name,
            "name_stem": analysis.stemmed_text(doc.name, language),
            "description": doc.description,
            "description_stem": analysis.stemmed_text(doc.description, language),
            "language": language or "",
            "content_hash": doc.content_hash,
        }
        if doc.sku:
            fields["sku"] = analysis.fold(doc.sku.strip())
        if doc.currency is not None:
            fields["currency"] = doc.currency
        if doc.price is not None:
            fields["price"] = scaled_price(doc.price)
        return tantivy.Document(**fields)

    def _text_query(self, query: str, searcher: Any) -> tantivy.Query | None:
        """Exact, stemmed and fuzzy term queries for each word; an exact SKU on top.

        The user's words become term queries: no query syntax, so nothing to inject.
        """
        words = list(dict.fromkeys(self._catalog.analyze(query)))[:_MAX_QUERY_TERMS]
        should: list[tuple[tantivy.Occur, tantivy.Query]] = []

        def add(query: tantivy.Query, boost: float) -> None:
            should.append((tantivy.Occur.Should, tantivy.Query.boost_query(query, boost)))

        sku = analysis.fold(query.strip())
        if sku:
            add(tantivy.Query.term_query(self._schema, "sku", sku), _SKU_BOOST)
        for word in words:
            stems = analysis.query_stems(word)
            distance = self._typo_allowance(searcher, word, stems)
            for field, (boost, fuzzy_boost) in _EXACT_FIELDS.items():
                add(tantivy.Query.term_query(self._schema, field, word), boost)
                if distance:
                    add(self._fuzzy(field, word, distance), fuzzy_boost)
            for field, boost in _STEM_FIELDS.items():
                for stem in stems:
                    add(tantivy.Query.term_query(self._schema, field, stem), boost)
        return tantivy.Query.boolean_query(should) if words or sku else None

    def _fuzzy(self, field: str, word: str, distance: int) -> tantivy.Query:
        return tantivy.Query.fuzzy_term_query(self._schema, field, word, distance, True)

    def _typo_allowance(self, searcher: Any, word: str, stems: frozenset[str]) -> int:
        """The word's edits by its length, or two when the index knows neither the word,
        nor its stem, nor a word within that allowance (``analysis.fuzzy_distance``).
        Term frequencies answer the common case; a one-hit fuzzy probe the rest."""
        distance = analysis.fuzzy_distance(word)
        if distance == analysis.fuzzy_distance(word, unknown=True):
            return distance
        if any(searcher.doc_freq(field, word) for field in _EXACT_FIELDS) or any(
            searcher.doc_freq(field, stem) for field in _STEM_FIELDS for stem in stems
        ):
            return distance
        near = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, self._fuzzy(f, word, distance)) for f in _EXACT_FIELDS]
        )
        if searcher.search(near, 1, count=False).hits:
            return distance
        return analysis.fuzzy_distance(word, unknown=True)

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
