"""Product routes: read one product, list a seller's, review a flagged one."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request

from pipeline.products import ProductStatus, StoredProduct
from pipeline.records import ID_PATTERN
from serve.guards import require_seller
from serve.schemas import ReviewRequest

router = APIRouter(tags=["products"])

ProductIdP = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
SellerIdP = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]


def product_json(item: StoredProduct) -> dict[str, Any]:
    rec = item.record
    return {
        **rec.model_dump(mode="json"),
        "status": item.status.value,
        "live": item.live,
        "verdict": item.verdict.model_dump(mode="json") if item.verdict else None,
    }


@router.get("/v1/products/{product_id}")
async def get_product(request: Request, product_id: ProductIdP) -> dict[str, Any]:
    item = await asyncio.to_thread(request.app.state.deps.products.get, product_id)
    if item is None:
        raise HTTPException(404, detail=f"no product {product_id}")
    return product_json(item)


@router.get("/v1/sellers/{seller_id}/products")
async def seller_products(
    request: Request,
    seller_id: SellerIdP,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    products = request.app.state.deps.products
    ids = await asyncio.to_thread(products.seller_product_ids, seller_id)
    page = ids[offset : offset + limit]
    items = await asyncio.to_thread(products.get_many, page)
    return {
        "seller_id": seller_id,
        "total": len(ids),
        "products": [product_json(items[pid]) for pid in page if pid in items],
    }


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
    await deps.review(item, body.decision, body.reason)
    return {"product_id": product_id, "decision": body.decision}
