"""What the rest of the system needs from a keyword (BM25) index.

Every implementation (embedded tantivy, SQLite FTS5, Elasticsearch) passes the same contract
tests (``tests/keyword/test_contract.py``). The protocol is synchronous: the Elasticsearch
client is thread-safe and not tied to an event loop, and the embedded engines are CPU-bound;
async callers wrap calls in ``asyncio.to_thread``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from pipeline.errors import PermanentError
from pipeline.records import ID_PATTERN, MAX_DESCRIPTION, MAX_NAME, ProductFilter, ProductRecord

MAX_QUERY_CHARS = 500
MAX_LIMIT = 1000
MAX_OFFSET = 10_000
MAX_SKU = 200
# Prices are indexed as integers of 1/10,000 (records allow 4 decimal places): exact filters.
PRICE_SCALE = 10_000
_ID_RE = re.compile(ID_PATTERN)
_STATUS_RE = re.compile(r"^[a-z_]{1,32}$")


@dataclass(frozen=True)
class KeywordDoc:
    product_id: str
    seller_id: str
    name: str
    description: str
    status: str
    price: Decimal | None
    currency: str | None
    content_hash: str
    sku: str | None = None  # the seller's retailer id: an exact-lookup field
    availability: str = "unknown"
    # ISO 639-1 from the seller's profile; None: detected from the text at indexing.
    language: str | None = None

    @classmethod
    def from_record(cls, record: ProductRecord, status: str) -> KeywordDoc:
        return cls(
            product_id=record.product_id,
            seller_id=record.seller_id,
            name=record.name,
            description=record.description,
            status=status,
            price=record.price,
            currency=record.currency,
            content_hash=record.content_hash,
            sku=record.retailer_id,
            availability=record.availability.value,
        )


KeywordFilter = ProductFilter  # the same filter serves both halves of a hybrid search


@dataclass(frozen=True)
class KeywordHit:
    product_id: str
    score: float


@dataclass(frozen=True)
class BulkResult:
    indexed: int
    errors: dict[str, str] = field(default_factory=dict)  # product id -> reason


class KeywordIndex(Protocol):
    """A BM25 index of product text with filter fields.

    ``upsert`` replaces documents by product id and reports each rejected document in
    ``BulkResult.errors`` while the rest land. Changes are visible to ``search`` after
    ``refresh`` (or the backend's own refresh interval). Backend failures raise
    RetryableError / BackendUnavailable; invalid arguments raise PermanentError.
    """

    def upsert(self, docs: list[KeywordDoc]) -> BulkResult: ...

    def delete(self, product_ids: list[str]) -> None: ...

    def delete_seller(self, seller_id: str) -> None: ...

    def search(
        self, query: str, *, filters: KeywordFilter | None = None, limit: int = 10, offset: int = 0
    ) -> list[KeywordHit]: ...

    def refresh(self) -> None: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


@runtime_checkable
class FollowingReader(Protocol):
    """A keyword index read in another process than the writer's, which follows the
    writer's commits on its own only after a delay (the embedded index; Elasticsearch's
    writer waits until its changes are searchable before it returns)."""

    def catch_up(self) -> None:
        """Makes every commit made before this call visible to this process's searches."""


def doc_problem(doc: KeywordDoc) -> str | None:
    """Why a document cannot be indexed, or None. Shared so every backend rejects alike."""
    if not _ID_RE.match(doc.product_id):
        return f"product_id must match {ID_PATTERN}"
    if not _ID_RE.match(doc.seller_id):
        return f"seller_id must match {ID_PATTERN}"
    if not _STATUS_RE.match(doc.status):
        return f"status must be 1-32 lowercase letters, got {doc.status[:40]!r}"
    if len(doc.name) > MAX_NAME:
        return f"name must be at most {MAX_NAME} characters, got {len(doc.name)}"
    if len(doc.description) > MAX_DESCRIPTION:
        return f"description must be at most {MAX_DESCRIPTION} characters"
    if doc.price is not None and (not doc.price.is_finite() or doc.price < 0):
        return f"price must be a finite number >= 0, got {doc.price}"
    if doc.price is not None and doc.price * PRICE_SCALE != int(doc.price * PRICE_SCALE):
        return "price must have at most 4 decimal places"
    if doc.currency is not None and not re.fullmatch(r"[A-Z]{3}", doc.currency):
        return f"currency must be 3 capital letters, got {doc.currency[:10]!r}"
    if doc.sku is not None and len(doc.sku) > MAX_SKU:
        return f"sku must be at most {MAX_SKU} characters"
    if not _STATUS_RE.match(doc.availability):
        return f"availability must be 1-32 lowercase letters, got {doc.availability[:40]!r}"
    return None


def check_search_args(query: str, limit: int, offset: int) -> None:
    """Raises PermanentError when a search argument breaks a size limit."""
    if len(query) > MAX_QUERY_CHARS:
        raise PermanentError(f"query must be at most {MAX_QUERY_CHARS} characters")
    if not 1 <= limit <= MAX_LIMIT:
        raise PermanentError(f"limit must be 1-{MAX_LIMIT}, got {limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise PermanentError(f"offset must be 0-{MAX_OFFSET}, got {offset}")


def check_ids(product_ids: list[str]) -> None:
    for product_id in product_ids:
        if not _ID_RE.match(product_id):
            raise PermanentError(f"product id must match {ID_PATTERN}, got {product_id[:140]!r}")


def scaled_price(price: Decimal, *, round_up: bool = False) -> int:
    """The price in 1/10,000 units; a lower bound rounds up so a filter never widens."""
    scaled = price * PRICE_SCALE
    whole = int(scaled)
    return whole + 1 if round_up and whole < scaled else whole
