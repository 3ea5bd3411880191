"""What the rest of the system needs from a keyword (BM25) index."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol


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


@dataclass(frozen=True)
class KeywordFilter:
    status: str | None = "approved"
    seller_id: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class KeywordHit:
    product_id: str
    score: float


@dataclass(frozen=True)
class BulkResult:
    indexed: int
    errors: dict[str, str] = field(default_factory=dict)  # product id -> reason


class KeywordIndex(Protocol):
    def upsert(self, docs: list[KeywordDoc]) -> BulkResult: ...

    def delete(self, product_ids: list[str]) -> None: ...

    def delete_seller(self, seller_id: str) -> None: ...

    def search(
        self, query: str, *, filters: KeywordFilter | None = None, limit: int = 10, offset: int = 0
    ) -> list[KeywordHit]: ...

    def refresh(self) -> None: ...

    def count(self) -> int: ...

    def close(self) -> None: ...
