"""Public search routes: text (hybrid) and photo."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile

from pipeline.errors import PermanentError
from pipeline.facets import FACETS
from pipeline.keyword.base import MAX_QUERY_CHARS
from pipeline.records import ID_PATTERN
from pipeline.search import (
    MAX_LIMIT,
    MAX_OFFSET,
    HybridSearcher,
    SearchFilters,
    SearchOptions,
    SearchResponse,
)
from serve.guards import MAX_UPLOAD_BODY, client_address, principal_of
from serve.schemas import FacetsOut, SearchHitOut, SearchOut
from serve.upload_images import ImageTooLarge, UploadBusy

router = APIRouter(prefix="/v1/search", tags=["search"])


def _searcher(request: Request) -> HybridSearcher:
    searcher: HybridSearcher = request.app.state.deps.searcher
    return searcher


SellerQ = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)]
PriceQ = Annotated[Decimal | None, Query(ge=0, le=Decimal("1e12"))]
CurrencyQ = Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")]
LimitQ = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
OffsetQ = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


PRICE_IGNORED = (
    "price filter ignored: prices come in several currencies; add currency "
    "(for example currency=INR) to filter by price"
)


def search_filters(
    request: Request,
    seller_id: SellerQ = None,
    min_price: PriceQ = None,
    max_price: PriceQ = None,
    currency: CurrencyQ = None,
) -> SearchFilters:
    """The filters every search route takes, from its query string. A price bound
    without a currency would compare rupees with dollars and silently drop rows: it is
    ignored, and the response's ``notices`` say so."""
    if min_price is not None and max_price is not None and min_price > max_price:
        raise HTTPException(422, detail="min_price must not exceed max_price")
    if currency is None and (min_price is not None or max_price is not None):
        request.state.search_notices = [PRICE_IGNORED]
        min_price = max_price = None
    return SearchFilters(
        seller_id=seller_id, min_price=min_price, max_price=max_price, currency=currency
    )


FiltersQ = Annotated[SearchFilters, Depends(search_filters)]


def search_out(
    resp: SearchResponse, limit: int, offset: int, request: Request | None = None
) -> SearchOut:
    return SearchOut(
        results=[SearchHitOut.model_validate(vars(hit)) for hit in resp.results],
        facets=FacetsOut.model_validate(resp.facets) if resp.facets is not None else None,
        did_you_mean=resp.did_you_mean,
        cached=resp.cached,
        took_ms=resp.took_ms,
        limit=limit,
        offset=offset,
        notices=getattr(request.state, "search_notices", []) if request is not None else [],
    )


@router.get("", response_model=SearchOut)
async def search_text(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
    filters: FiltersQ,
    limit: LimitQ = 20,
    offset: OffsetQ = 0,
    sort: Annotated[
        Literal["relevance", "price_asc", "price_desc", "newest"],
        Query(
            description="price sorts are exact within one currency; with several and no "
            "currency filter, results are grouped by currency (largest group first)"
        ),
    ] = "relevance",
    facets: Annotated[
        str | None,
        Query(
            max_length=100,
            description=f"comma-separated, any of {','.join(FACETS)}: counts over the "
            "whole result set",
        ),
    ] = None,
    highlight: bool = True,
) -> SearchOut:
    """Hybrid BM25 + SigLIP search over approved, indexed products: typo-tolerant,
    stemmed in the sellers' languages, with optional facets, sort and highlighting."""
    names = tuple(dict.fromkeys(f.strip() for f in (facets or "").split(",") if f.strip()))
    unknown = [name for name in names if name not in FACETS]
    if unknown:
        raise HTTPException(422, detail=f"facets must be among {','.join(FACETS)}: {unknown}")
    options = SearchOptions(sort=sort, facets=names, highlight=highlight)
    resp = await _searcher(request).search_text(
        q, filters, limit=limit, offset=offset, options=options
    )
    return search_out(resp, limit, offset, request)


@router.post("/image", response_model=SearchOut)
async def search_image(
    request: Request,
    image: Annotated[UploadFile, File(description="a JPEG, PNG or WebP photo")],
    filters: FiltersQ,
    limit: LimitQ = 20,
    offset: OffsetQ = 0,
) -> SearchOut:
    """Products that look like the uploaded photo (at most 24 megapixels: 413 above).

    The photo is checked on its header, then shrunk in a small decode pool before the
    encoder sees it; a client may have two uploads decoding at once (429 past that)."""
    deps = request.app.state.deps
    data = await image.read(MAX_UPLOAD_BODY + 1)
    if not data:
        raise HTTPException(422, detail="the image is empty")
    if len(data) > MAX_UPLOAD_BODY:
        raise HTTPException(413, detail=f"image larger than {MAX_UPLOAD_BODY} bytes")
    principal = principal_of(request, deps.keys)
    who = f"key:{principal.key_id}" if principal else client_address(request, deps.addresses)
    try:
        small = await deps.uploads.shrink(who, data)
    except ImageTooLarge as exc:
        raise HTTPException(413, detail=str(exc)) from exc
    except UploadBusy as exc:
        status = 429 if exc.scope == "client" else 503
        detail = "too many uploads decoding at once; retry shortly"
        raise HTTPException(status, detail=detail, headers={"Retry-After": "1"}) from exc
    except PermanentError as exc:
        raise HTTPException(422, detail=f"unusable image: {exc}") from exc
    try:
        resp = await _searcher(request).search_image(small, filters, limit=limit, offset=offset)
    except PermanentError as exc:
        raise HTTPException(422, detail=f"unusable image: {exc}") from exc
    return search_out(resp, limit, offset, request)
