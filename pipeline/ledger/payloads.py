"""Payload models, one per job type: a job is refused at enqueue unless its payload fits.

A payload is small JSON (at most ``MAX_PAYLOAD_BYTES`` once encoded) describing what to do,
never the data itself, except ``generate-embedding`` which carries the normalized product
so the embedder needs no other lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import PermanentError
from pipeline.records import ID_PATTERN, JobType, ProductRecord

MAX_PAYLOAD_BYTES = 256 * 1024
HASH_PATTERN = r"^[0-9a-f]{8,64}$"
SOURCE_PATTERN = r"^[a-z][a-z0-9_\-]{0,31}$"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


class SyncSellerPayload(_Payload):
    seller_id: str = Field(pattern=ID_PATTERN)
    catalog_url: str = Field(min_length=8, max_length=4096)
    source: str = Field(default="auto", pattern=SOURCE_PATTERN)

    _url = field_validator("catalog_url")(_http_url)


class ScrapeCatalogPayload(_Payload):
    seller_id: str = Field(pattern=ID_PATTERN)
    catalog_url: str = Field(min_length=8, max_length=4096)
    source: str = Field(pattern=SOURCE_PATTERN)

    _url = field_validator("catalog_url")(_http_url)


MAX_REDO = 2  # embeddings redone for one product version when the store lost its row


class GenerateEmbeddingPayload(_Payload):
    product: ProductRecord
    redo: int = Field(default=0, ge=0, le=MAX_REDO)


class QualityControlPayload(_Payload):
    product_id: str = Field(pattern=ID_PATTERN)
    seller_id: str = Field(pattern=ID_PATTERN)
    content_hash: str = Field(pattern=HASH_PATTERN)
    redo: int = Field(default=0, ge=0, le=MAX_REDO)


class IndexProductPayload(_Payload):
    product_id: str = Field(pattern=ID_PATTERN)
    seller_id: str = Field(pattern=ID_PATTERN)
    content_hash: str = Field(pattern=HASH_PATTERN)


PAYLOAD_MODELS: dict[JobType, type[_Payload]] = {
    JobType.SYNC_SELLER: SyncSellerPayload,
    JobType.SCRAPE_CATALOG: ScrapeCatalogPayload,
    JobType.GENERATE_EMBEDDING: GenerateEmbeddingPayload,
    JobType.QUALITY_CONTROL: QualityControlPayload,
    JobType.INDEX_PRODUCT: IndexProductPayload,
}


def payload_seller(model: BaseModel) -> str | None:
    """The seller a payload names, if any (a job's seller must agree with it)."""
    if isinstance(model, GenerateEmbeddingPayload):
        return model.product.seller_id
    seller = getattr(model, "seller_id", None)
    return seller if isinstance(seller, str) else None


def validate_payload(job_type: JobType, payload: Mapping[str, Any] | BaseModel) -> BaseModel:
    """The payload as its type's model.

    Raises PermanentError naming the job type and every broken field, for a payload of the
    wrong model, invalid fields, or unknown fields.
    """
    model_cls = PAYLOAD_MODELS[job_type]
    if isinstance(payload, model_cls):
        return payload
    if isinstance(payload, BaseModel):
        payload = payload.model_dump()
    try:
        return model_cls.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}"
            for err in exc.errors()[:10]
        )
        raise PermanentError(f"invalid {job_type} payload: {problems}") from exc


def encode_payload(job_type: JobType, model: BaseModel) -> str:
    """JSON text of a validated payload; raises PermanentError above ``MAX_PAYLOAD_BYTES``."""
    text = model.model_dump_json()
    if len(text) > MAX_PAYLOAD_BYTES:
        raise PermanentError(
            f"{job_type} payload is {len(text)} bytes, the limit is {MAX_PAYLOAD_BYTES}"
        )
    return text
