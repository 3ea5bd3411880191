"""The shoppers' search page and the routes only it needs: thumbnails and "more like this".

``GET /search`` serves a plain HTML/CSS/JS page (package data, no build step, nothing
from a CDN) that calls the JSON API. Product pictures reach the browser only through
``GET /v1/thumbnails/{id}``, never from the seller's host. ``GET /v1/products/{id}/similar``
is an image search from that product's stored image vector, with the search filters.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from pipeline.blobs import open_blob_store
from pipeline.records import ID_PATTERN
from serve.deps import ApiDeps
from serve.routes.search import FiltersQ, LimitQ, OffsetQ, search_out
from serve.schemas import SearchOut
from serve.static import PackagePage
from serve.web.imaging import ALLOWED_SIZES, ThumbFormat
from serve.web.thumbnails import MAX_IMAGES, CachedThumbnailService, ThumbnailError

router = APIRouter(tags=["web"])

ProductIdP = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]

SEARCH_PAGE = PackagePage(
    "serve.web",
    "search.html",
    ("search.css", "search.js", "search-controls.js"),
    csp="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
)
# An hour in browsers, then a cheap 304 revalidation: a product taken down stops showing
# within the hour even where a browser cached its picture.
THUMB_MAX_AGE = 3600


def _deps(request: Request) -> ApiDeps:
    deps: ApiDeps = request.app.state.deps
    return deps


# The page's <body> says which model answers, so it can warn that vector similarity is
# noise while the untrained tiny model is loaded (the demo's offline fallback). A CSS
# rule shows the banner: it needs no request and no script.
MODEL_MARKER = 'data-model="trained"'
DEMO_MODEL = 'data-model="demo"'


@router.get("/search", include_in_schema=False)
async def search_page(request: Request) -> Response:
    tiny = _deps(request).settings.siglip.is_tiny
    return SEARCH_PAGE.page({MODEL_MARKER: DEMO_MODEL} if tiny else None)


@router.get("/search/assets/{name}", include_in_schema=False)
async def search_asset(name: str) -> Response:
    return SEARCH_PAGE.asset(name)


def _thumbnails(request: Request) -> CachedThumbnailService:
    """The app's thumbnail service, made on first use inside the serving event loop (its
    fetcher's connections belong to that loop) and closed with the app's dependencies."""
    service: CachedThumbnailService | None = getattr(request.app.state, "thumbnails", None)
    if service is None:
        deps = _deps(request)
        store = open_blob_store(deps.settings)
        service = CachedThumbnailService(
            products=deps.products,
            cache=deps.aredis,
            catalog=deps.settings.catalog,
            keys=deps.ledger.keys,
            images=store,
        )
        request.app.state.thumbnails = service

        async def close() -> None:
            await service.aclose()
            store.close()

        deps.closers.append(close)
    return service


@router.get(
    "/v1/thumbnails/{product_id}",
    responses={200: {"content": {"image/jpeg": {}, "image/webp": {}}}},
)
async def thumbnail(
    request: Request,
    product_id: ProductIdP,
    size: Annotated[int, Query(description=f"one of {ALLOWED_SIZES}")] = 320,
    fmt: Annotated[Literal["jpeg", "webp"] | None, Query(alias="format")] = None,
    i: Annotated[int, Query(ge=0, lt=MAX_IMAGES, description="which of its images")] = 0,
) -> Response:
    """A live product's image, shrunk to fit ``size`` pixels, as JPEG or WebP (by the
    ``format`` parameter, else WebP when the browser accepts it). Cached here and by
    browsers; answers 304 to a matching ``If-None-Match``. 404: no such live product or
    image; 403: its host is refused; 422: it is not a usable image; 502: its host fails."""
    if size not in ALLOWED_SIZES:
        raise HTTPException(422, detail=f"size must be one of {list(ALLOWED_SIZES)}")
    if fmt is None:
        accepts_webp = "image/webp" in request.headers.get("accept", "")
        chosen = ThumbFormat.WEBP if accepts_webp else ThumbFormat.JPEG
    else:
        chosen = ThumbFormat(fmt)
    try:
        thumb = await _thumbnails(request).get(product_id, size, chosen, i)
    except ThumbnailError as exc:
        headers = {"Cache-Control": "public, max-age=60" if exc.status < 500 else "no-store"}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)
    etag = f'"{thumb.etag}"'
    headers = {
        "Cache-Control": f"public, max-age={THUMB_MAX_AGE}",
        "ETag": etag,
        "Vary": "Accept",
        "X-Content-Type-Options": "nosniff",
        "X-Thumbnail-Source": thumb.source,
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(thumb.data, media_type=thumb.fmt.media_type, headers=headers)


@router.get("/v1/products/{product_id}/similar", response_model=SearchOut, tags=["search"])
async def similar_products(
    request: Request,
    product_id: ProductIdP,
    filters: FiltersQ,
    limit: LimitQ = 20,
    offset: OffsetQ = 0,
) -> SearchOut:
    """More like this: live products whose photos look like this product's (itself left
    out), with the same filters as search. Cached like text searches. 404 when the product
    is not live or has no stored vector."""
    found = await _deps(request).searcher.search_similar(product_id, filters, limit, offset)
    if found is None:
        raise HTTPException(404, detail=f"no live product {product_id}")
    return search_out(found, limit, offset, request)
