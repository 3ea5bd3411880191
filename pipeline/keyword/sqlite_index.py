"""The other embedded candidate: SQLite FTS5 with bm25(), one database file.

Kept as a working backend (same contract tests) because ``benchmarks/qc_index.py`` measures
it against tantivy; the factory picks tantivy (docs/qc_keyword.md has the figures). Useful
where a Rust wheel is unavailable. WAL mode: one writer, readers in other processes see
each commit on their next query, so :meth:`refresh` has nothing to do.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

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

_MAX_QUERY_TERMS = 32
_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    rowid INTEGER PRIMARY KEY,
    product_id TEXT NOT NULL UNIQUE,
    seller_id TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT,
    price INTEGER,
    content_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_seller ON docs (seller_id);
CREATE INDEX IF NOT EXISTS docs_status_price ON docs (status, price);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5 (
    name, description,
    -- M* too: Devanagari vowel signs are marks, and a word must not split at them.
    tokenize = "porter unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
);
"""


class SqliteKeywordIndex:
    """BM25 (FTS5 ``bm25()``, name weighted 3x) over one SQLite file, with filter columns."""

    def __init__(self, path: Path, *, writable: bool = True) -> None:
        """Opens or creates the database. Raises BackendUnavailable if it cannot be opened."""
        self._path = path
        self._writable = writable
        self._lock = threading.Lock()
        try:
            if writable:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                self._db.executescript("PRAGMA journal_mode=WAL;" + _SCHEMA)
            else:
                uri = f"file:{path}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"cannot open keyword database {path}: {exc}") from exc
        self._db.execute("PRAGMA busy_timeout = 5000")

    def upsert(self, docs: list[KeywordDoc]) -> BulkResult:
        """Adds or replaces documents by product id; invalid ones are reported, not indexed."""
        self._require_writable()
        errors: dict[str, str] = {}
        indexed = 0
        with self._lock, self._transaction():
            for doc in docs:
                problem = doc_problem(doc)
                if problem is not None:
                    errors[doc.product_id[:140]] = problem
                    continue
                self._delete_one(doc.product_id)
                cursor = self._db.execute(
                    "INSERT INTO docs (product_id, seller_id, status, currency, price,"
                    " content_hash) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        doc.product_id,
                        doc.seller_id,
                        doc.status,
                        doc.currency,
                        scaled_price(doc.price) if doc.price is not None else None,
                        doc.content_hash,
                    ),
                )
                self._db.execute(
                    "INSERT INTO fts (rowid, name, description) VALUES (?, ?, ?)",
                    (cursor.lastrowid, doc.name, doc.description),
                )
                indexed += 1
        return BulkResult(indexed=indexed, errors=errors)

    def delete(self, product_ids: list[str]) -> None:
        check_ids(product_ids)
        self._require_writable()
        with self._lock, self._transaction():
            for product_id in product_ids:
                self._delete_one(product_id)

    def delete_seller(self, seller_id: str) -> None:
        check_ids([seller_id])
        self._require_writable()
        with self._lock, self._transaction():
            self._db.execute(
                "DELETE FROM fts WHERE rowid IN (SELECT rowid FROM docs WHERE seller_id = ?)",
                (seller_id,),
            )
            self._db.execute("DELETE FROM docs WHERE seller_id = ?", (seller_id,))

    def search(
        self, query: str, *, filters: KeywordFilter | None = None, limit: int = 10, offset: int = 0
    ) -> list[KeywordHit]:
        """BM25 hits, best first; a query with no words matches nothing.

        Raises PermanentError when the query or paging breaks a size limit.
        """
        check_search_args(query, limit, offset)
        # FTS5 tokenizes each quoted piece with the table's own tokenizer.
        pieces = (p for p in query.lower().split() if any(c.isalnum() for c in p))
        words = list(dict.fromkeys(pieces))[:_MAX_QUERY_TERMS]
        if not words:
            return []
        # Each word quoted: FTS5 query syntax in a stranger's text is treated as text.
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        where, params = _filters_sql(filters if filters is not None else KeywordFilter())
        sql = (
            "SELECT docs.product_id, -bm25(fts, 3.0, 1.0) AS score FROM fts"
            " JOIN docs ON docs.rowid = fts.rowid"
            f" WHERE fts MATCH ?{where} ORDER BY bm25(fts, 3.0, 1.0) LIMIT ? OFFSET ?"
        )
        with self._lock:
            rows = self._db.execute(sql, (match, *params, limit, offset)).fetchall()
        return [KeywordHit(product_id=row[0], score=float(row[1])) for row in rows]

    def refresh(self) -> None:
        """Nothing to do: in WAL mode every commit is visible to the next read."""

    def count(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT count(*) FROM docs").fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _require_writable(self) -> None:
        if not self._writable:
            raise PermanentError(f"keyword database {self._path} is open read-only")

    def _delete_one(self, product_id: str) -> None:
        row = self._db.execute(
            "SELECT rowid FROM docs WHERE product_id = ?", (product_id,)
        ).fetchone()
        if row is not None:
            self._db.execute("DELETE FROM fts WHERE rowid = ?", (row[0],))
            self._db.execute("DELETE FROM docs WHERE rowid = ?", (row[0],))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (the connection is in autocommit)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def _filters_sql(filters: KeywordFilter) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    for column, value in (
        ("status", filters.status),
        ("seller_id", filters.seller_id),
        ("currency", filters.currency),
    ):
        if value is not None:
            clauses.append(f"docs.{column} = ?")
            params.append(value)
    if filters.min_price is not None:
        clauses.append("docs.price >= ?")
        params.append(scaled_price(filters.min_price, round_up=True))
    if filters.max_price is not None:
        clauses.append("docs.price <= ?")
        params.append(scaled_price(filters.max_price))
    return "".join(f" AND {c}" for c in clauses), params
