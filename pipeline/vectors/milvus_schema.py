"""The products collection in Milvus: its fields, its indexes, filters and row checks.

Index choice, with numbers (docs/embedding.md has the table and the command): on Milvus
Lite 3.x at 100,000 x 768, HNSW with a selective filter (one seller, approved) found
0.09 of the true top-10 at ef=64 and 0.70 at ef=1024, while FLAT was exact at about the
same p50, because Lite filters after the graph walk and scans rows in Python either way.
So ``AUTO`` means FLAT on Lite and HNSW on a Milvus server, whose filtered HNSW search
keeps recall and whose exact scan would not scale.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from pipeline.errors import ConfigError, PermanentError
from pipeline.records import ID_PATTERN
from pipeline.vectors.base import VectorFilter, VectorRow

STATUSES = frozenset({"pending", "approved", "rejected", "flagged"})
VECTOR_FIELDS = ("image_vector", "text_vector")
SCALAR_FIELDS = (
    "product_id",
    "seller_id",
    "status",
    "price",
    "currency",
    "content_hash",
    "updated_at",
)
ID_MAX = 128
_ID = re.compile(ID_PATTERN)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_HASH = re.compile(r"^[0-9a-f]{1,64}$")


@dataclass(frozen=True)
class IndexChoice:
    """One vector index: its type, metric and build/search parameters."""

    index_type: str
    build: dict[str, Any]
    search: dict[str, Any]
    metric: str = "COSINE"


def choose_index(
    index_type: str, *, lite: bool, hnsw_m: int = 16, ef_construction: int = 200, ef: int = 128
) -> IndexChoice:
    """``AUTO`` -> FLAT on Milvus Lite, HNSW on a server; explicit types are kept.

    Raises ConfigError for a type this store does not configure.
    """
    kind = index_type.upper()
    if kind == "AUTO":
        kind = "FLAT" if lite else "HNSW"
    if kind == "FLAT":
        return IndexChoice("FLAT", {}, {})
    if kind == "HNSW":
        return IndexChoice("HNSW", {"M": hnsw_m, "efConstruction": ef_construction}, {"ef": ef})
    if kind == "IVF_FLAT":
        return IndexChoice("IVF_FLAT", {"nlist": 1024}, {"nprobe": 32})
    if kind == "DISKANN" and not lite:
        return IndexChoice("DISKANN", {}, {"search_list": max(ef, 100)})
    raise ConfigError(f"MILVUS_INDEX_TYPE: {index_type!r} is not supported here (lite={lite})")


def build_schema(
    client_cls: Any,
    data_type: Any,
    dim: int,
    vector_fields: tuple[str, ...] = VECTOR_FIELDS,
    nullable: bool = True,
) -> Any:
    """A collection schema with every scalar field and ``vector_fields`` (pymilvus
    ``MilvusClient`` and ``DataType`` passed in). Without ``nullable`` (servers before
    2.5), price and currency hold sentinels instead of NULL (see milvus_layout)."""
    optional: dict[str, Any] = {"nullable": True} if nullable else {}
    schema = client_cls.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("product_id", data_type.VARCHAR, is_primary=True, max_length=ID_MAX)
    schema.add_field("seller_id", data_type.VARCHAR, max_length=ID_MAX)
    schema.add_field("status", data_type.VARCHAR, max_length=16)
    schema.add_field("price", data_type.DOUBLE, **optional)
    schema.add_field("currency", data_type.VARCHAR, max_length=3, **optional)
    for field in vector_fields:
        schema.add_field(field, data_type.FLOAT_VECTOR, dim=dim)
    schema.add_field("content_hash", data_type.VARCHAR, max_length=64)
    schema.add_field("updated_at", data_type.DOUBLE)
    return schema


def quote(value: str) -> str:
    """A string literal for a Milvus filter expression."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_id(value: str, what: str = "product id") -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise PermanentError(f"{what} {value!r} must match {ID_PATTERN}")
    return value


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise PermanentError(f"status must be one of {sorted(STATUSES)}, got {status!r}")
    return status


def filter_expression(filters: VectorFilter | None) -> str:
    """The boolean expression for a filter ("" for none); raises PermanentError on bad values."""
    if filters is None:
        return ""
    parts = []
    if filters.status is not None:
        parts.append(f"status == {quote(check_status(filters.status))}")
    if filters.seller_id is not None:
        parts.append(f"seller_id == {quote(check_id(filters.seller_id, 'seller id'))}")
    if filters.currency is not None:
        if not _CURRENCY.fullmatch(filters.currency):
            raise PermanentError(f"currency must be 3 capital letters, got {filters.currency!r}")
        parts.append(f"currency == {quote(filters.currency)}")
    # An upper bound alone gets a lower bound of 0 too: a missing price is NULL or, on
    # servers without NULL, -1 (milvus_layout), and must not pass "price <= x".
    low = filters.min_price
    if low is None and filters.max_price is not None:
        low = Decimal(0)
    for op, bound in ((">=", low), ("<=", filters.max_price)):
        if bound is not None:
            value = float(bound)
            if not math.isfinite(value) or value < 0:
                raise PermanentError(f"price bound must be a finite number >= 0, got {bound}")
            parts.append(f"price {op} {value!r}")
    return " and ".join(parts)


def check_vector(vector: Any, dim: int, what: str) -> np.ndarray[Any, np.dtype[np.float32]]:
    """A float32 (dim,) copy of ``vector``; PermanentError when its shape or values are wrong."""
    arr = np.asarray(vector, dtype=np.float32)
    if arr.shape != (dim,):
        raise PermanentError(f"{what} must have shape ({dim},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise PermanentError(f"{what} has NaN or infinite values")
    return arr


def row_to_entity(row: VectorRow, dim: int) -> dict[str, Any]:
    """A validated Milvus entity for one row; raises PermanentError naming the bad field."""
    pid = check_id(row.product_id)
    price = row.price
    if price is not None and (not math.isfinite(price) or price < 0):
        raise PermanentError(f"{pid}: price must be a finite number >= 0, got {price}")
    if row.currency is not None and not _CURRENCY.fullmatch(row.currency):
        raise PermanentError(f"{pid}: currency must be 3 capital letters, got {row.currency!r}")
    if not _HASH.fullmatch(row.content_hash):
        raise PermanentError(f"{pid}: content hash must be 1-64 hex digits")
    return {
        "product_id": pid,
        "seller_id": check_id(row.seller_id, "seller id"),
        "status": check_status(row.status),
        "price": None if price is None else float(price),
        "currency": row.currency,
        "image_vector": check_vector(row.image_vector, dim, f"{pid}: image_vector"),
        "text_vector": check_vector(row.text_vector, dim, f"{pid}: text_vector"),
        "content_hash": row.content_hash,
        "updated_at": float(row.updated_at),
    }


def entity_to_row(entity: dict[str, Any]) -> VectorRow:
    price = entity.get("price")
    return VectorRow(
        product_id=str(entity["product_id"]),
        seller_id=str(entity["seller_id"]),
        status=str(entity["status"]),
        price=None if price is None else float(price),
        currency=entity.get("currency") or None,
        image_vector=np.asarray(entity["image_vector"], dtype=np.float32),
        text_vector=np.asarray(entity["text_vector"], dtype=np.float32),
        content_hash=str(entity["content_hash"]),
        updated_at=float(entity["updated_at"]),
    )
