"""Shared records: what flows between stages, what the API shows. Typed, validated, small."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_NAME = 300
MAX_DESCRIPTION = 10_000
MAX_IMAGES = 20
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
JOB_ID_PATTERN = r"^[0-9a-f]{32}$"  # the ledger's job ids (and so sync ids): uuid4 hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Availability(StrEnum):
    IN_STOCK = "in_stock"
    OUT_OF_STOCK = "out_of_stock"
    PREORDER = "preorder"
    UNKNOWN = "unknown"


class ProductRecord(BaseModel):
    """One normalized product, whatever source it came from."""

    model_config = ConfigDict(frozen=True)

    product_id: str = Field(pattern=ID_PATTERN)
    seller_id: str = Field(pattern=ID_PATTERN)
    retailer_id: str | None = Field(default=None, max_length=200)
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    price: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=4)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    price_raw: str | None = Field(default=None, max_length=200)
    price_unparsed: bool = False
    image_urls: tuple[str, ...] = Field(default=(), max_length=MAX_IMAGES)
    availability: Availability = Availability.UNKNOWN
    source_url: str = Field(max_length=4096)
    image_sha256: str | None = None
    # SHA-256 of each verified image, in image_urls' order: its bytes in the image store.
    # Empty for records scraped without verification (CATALOG_VERIFY_IMAGES=false).
    image_hashes: tuple[Annotated[str, Field(pattern=SHA256_PATTERN)], ...] = Field(
        default=(), max_length=MAX_IMAGES
    )
    content_hash: str = ""

    @field_validator("name", "description")
    @classmethod
    def _strip(cls, value: str) -> str:
        return " ".join(value.split()) if value else value

    @model_validator(mode="after")
    def _one_hash_per_image(self) -> ProductRecord:
        if self.image_hashes and len(self.image_hashes) != len(self.image_urls):
            raise ValueError(
                f"image_hashes must hold one hash per image URL: {len(self.image_hashes)} "
                f"hashes for {len(self.image_urls)} URLs"
            )
        return self

    def model_post_init(self, __context: Any) -> None:
        if not self.content_hash:
            object.__setattr__(self, "content_hash", self.compute_content_hash())

    def compute_content_hash(self) -> str:
        """Hash of what matters for embedding and QC: a change here means re-embed and re-check."""
        material = {
            "name": self.name,
            "description": self.description,
            "price": str(self.price) if self.price is not None else self.price_raw,
            "currency": self.currency,
            "images": list(self.image_urls),
            "image_sha256": self.image_sha256,
            # Records from before the image store hash differently, so the first sync
            # after the upgrade sends each product through once more and stores its images.
            "image_hashes": list(self.image_hashes),
        }
        blob = json.dumps(material, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:32]

    @staticmethod
    def make_id(seller_id: str, retailer_id: str | None = None, url: str | None = None) -> str:
        """Stable product id: seller + retailer id, or a hash of the product URL."""
        key = retailer_id if retailer_id else url
        if not key:
            raise ValueError("a product id needs a retailer id or a product URL")
        digest = hashlib.sha256(f"{seller_id}\x00{key}".encode()).hexdigest()[:20]
        return f"{seller_id[:64]}:{digest}"


@dataclass(frozen=True)
class ProductFilter:
    """What a search may return: every set field must hold. ``status`` defaults to
    approved so a search never leaks products that QC did not pass."""

    status: str | None = "approved"
    seller_id: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    currency: str | None = None


class SkippedProduct(BaseModel):
    """A product a source could not import, and why: shown to the seller, never silently dropped."""

    seller_id: str
    source_url: str
    reason: str
    raw_name: str | None = None


class QCDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    FLAGGED = "flagged"


class QCVerdict(BaseModel):
    decision: QCDecision
    reasons: list[str] = Field(default_factory=list)
    category: str | None = None
    confidence: float = Field(default=0.0, ge=0, le=1)
    model: str
    policy_version: str
    checked_at: datetime = Field(default_factory=utcnow)


class JobType(StrEnum):
    SYNC_SELLER = "sync-seller"
    SCRAPE_CATALOG = "scrape-catalog"
    GENERATE_EMBEDDING = "generate-embedding"
    QUALITY_CONTROL = "quality-control"
    INDEX_PRODUCT = "index-product"


class JobState(StrEnum):
    WAITING = "waiting"
    DELAYED = "delayed"
    ACTIVE = "active"
    COMPLETED = "completed"
    DEAD = "dead"


class Priority(IntEnum):
    """Lower value is claimed first."""

    HIGH = 0
    NORMAL = 1
    LOW = 2

    @classmethod
    def parse(cls, name: str) -> Priority:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"priority must be one of high, normal, low; got {name!r}") from None
