"""Public search routes: text (hybrid) and photo."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile

from pipeline.errors import PermanentError
from pipeline.records import ID_PATTERN
from pipeline.search import MAX_LIMIT, MAX_OFFSET, HybridSearcher, SearchFilters, SearchResponse
from serve.guards import MAX_UPLOAD_BODY
from serve.schemas import SearchHitOut, SearchOut

router = APIRouter(prefix="/v1/search", tags=["search"])


def _searcher(request: Request) -> HybridSearcher:
    searcher: HybridSearcher = request.app.state.deps.searcher
    return searcher


SellerQ = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)]
PriceQ = Annotated[Decimal | None, Query(ge=0, le=Decimal("1e12"))]
CurrencyQ = Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")]
LimitQ = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
OffsetQ = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def search_filters(
    seller_id: SellerQ = None,
    min_price: PriceQ = None,
    max_price: PriceQ = None,
    currency: CurrencyQ = None,
) -> SearchFilters:
    """The filters every search route takes, from its query string."""
    if min_price is not None and max_price is not None and min_price > max_price:
        raise HTTPException(422, detail="min_price must not exceed max_price")
    return SearchFilters(
        seller_id=seller_id, min_price=min_price, max_price=max_price, currency=currency
    )


FiltersQ = Annotated[SearchFilters, Depends(search_filters)]


def search_out(resp: SearchResponse, limit: int, offset: int) -> SearchOut:
    return SearchOut(
        results=[SearchHitOut(**vars(hit)) for hit in resp.results],
        cached=resp.cached,
        took_ms=resp.took_ms,
        limit=limit,
        offset=offset,
    )


@router.get("", response_model=SearchOut)
async def search_text(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=512)],
    filters: FiltersQ,
    limit: LimitQ = 20,
    offset: OffsetQ = 0,
) -> SearchOut:
    """Hybrid BM25 + SigLIP search over approved, indexed products."""
    resp = await _searcher(request).search_text(q, filters, limit=limit, offset=offset)
    return search_out(resp, limit, offset)


@router.post("/image", response_model=SearchOut)
async def search_image(
    request: Request,
    image: Annotated[UploadFile, File(description="a JPEG, PNG or WebP photo")],
    filters: FiltersQ,
    limit: LimitQ = 20,
    offset: OffsetQ = 0,
) -> SearchOut:
    """Products that look like the uploaded photo."""
    data = await image.read(MAX_UPLOAD_BODY + 1)
    if not data:
        raise HTTPException(422, detail="the image is empty")
    if len(data) > MAX_UPLOAD_BODY:
        raise HTTPException(413, detail=f"image larger than {MAX_UPLOAD_BODY} bytes")
    try:
        resp = await _searcher(request).search_image(data, filters, limit=limit, offset=offset)
    except PermanentError as exc:
        raise HTTPException(422, detail=f"unusable image: {exc}") from exc
    return search_out(resp, limit, offset)
