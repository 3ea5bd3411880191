"""Request and response bodies of the HTTP API, with their size limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.sources.base import SourceKind


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    catalog_url: str = Field(min_length=1, max_length=2048)
    # None: the seller's tier decides (premium: high, standard: normal, basic: low).
    priority: Literal["high", "normal", "low"] | None = None
    source: SourceKind = SourceKind.AUTO


class SyncAccepted(BaseModel):
    sync_id: str
    existing: bool = Field(description="True when a sync of this seller was already running")


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: str = Field(default="", max_length=500)


class SearchHitOut(BaseModel):
    product_id: str
    score: float
    seller_id: str
    name: str
    description: str
    price: str | None
    currency: str | None
    image_url: str | None
    sources: list[str]


class SearchOut(BaseModel):
    results: list[SearchHitOut]
    cached: bool
    took_ms: float
    limit: int
    offset: int


class ErrorOut(BaseModel):
    detail: str
