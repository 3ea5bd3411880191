"""Product routes: read one product, list a seller's, review a flagged one."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request

from pipeline.products import ProductStatus, StoredProduct
from pipeline.records import ID_PATTERN
from pipeline.reviews import review_product as apply_review
from serve.guards import principal_of, require_seller
from serve.schemas import ReviewRequest

router = APIRouter(tags=["products"])

ProductIdP = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
SellerIdP = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
_PUBLIC_CHUNK = 500  # products read per round trip for a public listing


def product_json(item: StoredProduct) -> dict[str, Any]:
    rec = item.record
    return {
        **rec.model_dump(mode="json"),
        "status": item.status.value,
        "live": item.live,
        "verdict": item.verdict.model_dump(mode="json") if item.verdict else None,
    }


def _sees_everything(request: Request, seller_id: str) -> bool:
    """The seller's own key or an admin key: every status and the QC verdicts. Anyone
    else sees what search shows, live products without verdicts (a rejected product and
    the reasons for it are the seller's business)."""
    principal = principal_of(request, request.app.state.deps.keys)
    return principal is not None and principal.may_act_for(seller_id)


def _public_json(item: StoredProduct) -> dict[str, Any]:
    return {**product_json(item), "verdict": None}


@router.get("/v1/products/{product_id}")
async def get_product(request: Request, product_id: ProductIdP) -> dict[str, Any]:
    item = await asyncio.to_thread(request.app.state.deps.products.get, product_id)
    if item is not None and _sees_everything(request, item.record.seller_id):
        return product_json(item)
    if item is None or not item.live:  # the same answer: nothing says it exists
        raise HTTPException(404, detail=f"no product {product_id}")
    return _public_json(item)


@router.get("/v1/sellers/{seller_id}/products")
async def seller_products(
    request: Request,
    seller_id: SellerIdP,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    products = request.app.state.deps.products
    ids = await asyncio.to_thread(products.seller_product_ids, seller_id)
    if _sees_everything(request, seller_id):
        page = ids[offset : offset + limit]
        items = await asyncio.to_thread(products.get_many, page)
        every = [product_json(items[pid]) for pid in page if pid in items]
        return {"seller_id": seller_id, "total": len(ids), "products": every}
    # Live products only: the count is kept per seller (O(1)); the page is read a chunk at
    # a time until it is full, not the whole catalog per anonymous request.
    counts = await asyncio.to_thread(products.seller_counts, seller_id)
    shown: list[dict[str, Any]] = []
    to_skip = offset
    for start in range(0, len(ids), _PUBLIC_CHUNK):
        chunk = ids[start : start + _PUBLIC_CHUNK]
        items = await asyncio.to_thread(products.get_many, chunk)
        for item in (items[pid] for pid in chunk if pid in items and items[pid].live):
            if to_skip:
                to_skip -= 1
            elif len(shown) < limit:
                shown.append(_public_json(item))
        if len(shown) == limit:
            break
    return {"seller_id": seller_id, "total": counts["live"], "products": shown}


@router.post("/v1/products/{product_id}/review")
async def review_product(
    request: Request, product_id: ProductIdP, body: ReviewRequest
) -> dict[str, Any]:
    """Approve or reject a product; approving queues it for indexing (it goes live then)."""
    deps = request.app.state.deps
    item = await asyncio.to_thread(deps.products.get, product_id)
    if item is None:
        raise HTTPException(404, detail=f"no product {product_id}")
    require_seller(request, deps.keys, item.record.seller_id)
    if item.status not in (ProductStatus.FLAGGED, ProductStatus.APPROVED, ProductStatus.REJECTED):
        raise HTTPException(
            409, detail=f"product is {item.status.value}; only checked products can be reviewed"
        )
    await apply_review(
        item,
        body.decision,
        body.reason,
        products=deps.products,
        vectors=deps.vectors,
        ledger=deps.ledger,
    )
    return {"product_id": product_id, "decision": body.decision}
