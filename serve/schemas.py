"""Request and response bodies of the HTTP API, with their size limits."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from pipeline.records import ID_PATTERN, JOB_ID_PATTERN, JobType
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


class HighlightOut(BaseModel):
    name: str
    description: str


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
    highlight: HighlightOut | None = Field(
        default=None,
        description="name and description HTML-escaped, matched words (typos and stems "
        "too) in <mark>; the description is a snippet around the first match",
    )
    availability: str = Field(description="in_stock, out_of_stock, preorder or unknown")
    product_url: str | None = Field(description="the product's page at the seller, when known")
    seller_name: str | None = Field(description="the seller's display name, when known")
    contact_url: str | None = Field(
        description="https://wa.me/<number>?text=<product name> for a WhatsApp seller, "
        "else the product's or the shop's page"
    )
    contact_kind: Literal["whatsapp", "shop"] | None = None


class FacetValueOut(BaseModel):
    value: str
    count: int


class PriceBucketOut(BaseModel):
    currency: str
    from_: str = Field(alias="from", description="lower bound, inclusive")
    to: str | None = Field(description="upper bound, exclusive; null: open-ended")
    count: int

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class FacetsOut(BaseModel):
    """Counts over the whole result set (not the page), for the requested facets."""

    seller_id: list[FacetValueOut] | None = None
    currency: list[FacetValueOut] | None = None
    availability: list[FacetValueOut] | None = None
    price: list[PriceBucketOut] | None = Field(
        default=None, description="buckets chosen per currency, never mixing currencies"
    )


class SuggestOut(BaseModel):
    suggestions: list[str]


class SearchOut(BaseModel):
    results: list[SearchHitOut]
    facets: FacetsOut | None = None
    did_you_mean: str | None = Field(
        default=None, description="the query as the catalog spells it, when typos carried it"
    )
    cached: bool
    took_ms: float
    limit: int
    offset: int
    notices: list[str] = Field(
        default_factory=list, description="what the search ignored or changed, and why"
    )


class ErrorOut(BaseModel):
    detail: str


JobIdStr = Annotated[str, StringConstraints(pattern=JOB_ID_PATTERN)]
SellerIdStr = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=128)]


class DeadLetterSelection(BaseModel):
    """Which dead letters a replay or purge acts on: the given ids, or every one of a type
    and/or seller, or (``all``) every one. Exactly one kind of selection, never none."""

    model_config = ConfigDict(extra="forbid")

    job_ids: list[JobIdStr] | None = Field(default=None, min_length=1, max_length=1000)
    type: JobType | None = None
    seller_id: SellerIdStr | None = None
    all: bool = False

    @model_validator(mode="after")
    def _one_selection(self) -> DeadLetterSelection:
        filters = self.type is not None or self.seller_id is not None
        if self.job_ids is not None and (filters or self.all):
            raise ValueError("give job_ids, or type/seller_id, or all: true; not several")
        if self.all and filters:
            raise ValueError("all: true takes no type or seller_id")
        if self.job_ids is None and not filters and not self.all:
            raise ValueError("nothing selected: give job_ids, type, seller_id, or all: true")
        return self
