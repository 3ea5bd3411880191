"""What the rest of the system needs from a vector store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from pipeline.records import ProductFilter

# The width of every stored vector (SigLIP's shared image-text space). Vectors own it, and
# the embedders produce it: embedding imports vectors, never the reverse.
EMBED_DIM = 768


@dataclass(frozen=True)
class VectorRow:
    product_id: str
    seller_id: str
    status: str  # QC status: pending / approved / rejected / flagged
    price: float | None
    currency: str | None
    image_vector: npt.NDArray[np.float32]
    text_vector: npt.NDArray[np.float32]
    content_hash: str
    updated_at: float


VectorFilter = ProductFilter  # the same filter serves both halves of a hybrid search


@dataclass(frozen=True)
class VectorHit:
    product_id: str
    score: float
    fields: dict[str, object] = field(default_factory=dict)


class VectorStore(Protocol):
    def upsert(self, rows: list[VectorRow]) -> None: ...

    def delete(self, product_ids: list[str]) -> None: ...

    def delete_seller(self, seller_id: str) -> None: ...

    def set_status(self, product_ids: list[str], status: str) -> None: ...

    def search(
        self,
        vector: npt.NDArray[np.float32],
        *,
        field: str = "image_vector",
        filters: VectorFilter | None = None,
        limit: int = 10,
    ) -> list[VectorHit]: ...

    def fetch(self, product_ids: list[str]) -> list[VectorRow]: ...

    def count(self) -> int: ...

    def flush(self) -> None:
        """Make acknowledged writes durable and visible (a no-op where they already are)."""
        ...

    def close(self) -> None: ...
