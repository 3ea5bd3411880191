"""Seller profiles: tier (queue priority), catalog URL for scheduled re-syncs, webhook.

``PUT /v1/sellers/{seller_id}`` creates or updates a profile (fields left out keep their
value). A seller's own key may set its catalog URL and webhook; only an admin key may
change a tier, since the tier buys queue priority. The webhook URL passes the SSRF guard
here (private, loopback and link-local addresses are refused unless allow-listed; plain
http only for allow-listed hosts); the catalog URL must be one a catalog source supports.
When a webhook is set without a secret and the seller has none yet, one is generated
and returned once, in ``webhook_secret``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import PermanentError
from pipeline.fetch.guard import UrlGuard
from pipeline.notify import check_webhook_url
from pipeline.records import ID_PATTERN
from pipeline.sellers import (
    MAX_SECRET_CHARS,
    MIN_SECRET_CHARS,
    RedisSellerDirectory,
    SellerTier,
)
from pipeline.sources.base import SourceKind
from serve.guards import require_admin, require_seller

router = APIRouter(tags=["sellers"])

SellerIdP = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]


class SellerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: Literal["premium", "standard", "basic"] | None = None
    catalog_url: str | None = Field(default=None, min_length=1, max_length=2048)
    source: SourceKind | None = None
    webhook_url: str | None = Field(default=None, min_length=1, max_length=2048)
    webhook_secret: str | None = Field(
        default=None, min_length=MIN_SECRET_CHARS, max_length=MAX_SECRET_CHARS
    )
    remove_webhook: bool = False


def directory_of(request: Request) -> RedisSellerDirectory:
    deps = request.app.state.deps
    period = deps.settings.schedule.resync_hours * 3600.0
    return RedisSellerDirectory(deps.redis, deps.ledger.keys, resync_period_s=period)


@router.put("/v1/sellers/{seller_id}")
async def put_seller(request: Request, seller_id: SellerIdP, body: SellerUpdate) -> dict[str, Any]:
    """Create or update a seller's profile (200); 403 for a tier change without an admin
    key; 422 with the reason for a refused URL or secret."""
    deps = request.app.state.deps
    principal = require_seller(request, deps.keys, seller_id)
    if body.tier is not None and not principal.admin:
        raise HTTPException(403, detail="only an admin key may change a seller's tier")
    if body.remove_webhook and (body.webhook_url or body.webhook_secret):
        raise HTTPException(422, detail="remove_webhook cannot be combined with a webhook")
    source = body.source.value if body.source is not None else None
    try:
        if body.catalog_url is not None and deps.check_url is not None:
            await asyncio.to_thread(deps.check_url, body.catalog_url, source or "auto")
        if body.webhook_url is not None:
            guard = UrlGuard(deps.settings.catalog.allowed_hosts)
            await asyncio.wait_for(check_webhook_url(body.webhook_url, guard), timeout=10)
        profile, secret = await asyncio.to_thread(
            directory_of(request).upsert,
            seller_id,
            tier=SellerTier(body.tier) if body.tier else None,
            catalog_url=body.catalog_url,
            source=source,
            webhook_url=body.webhook_url,
            webhook_secret=body.webhook_secret,
            remove_webhook=body.remove_webhook,
        )
    except PermanentError as exc:
        raise HTTPException(422, detail=str(exc)) from exc
    except TimeoutError as exc:
        raise HTTPException(422, detail="webhook URL: its host name did not resolve") from exc
    out = profile.public()
    if secret is not None:
        out["webhook_secret"] = secret  # shown this once
    return out


@router.get("/v1/sellers/{seller_id}")
async def get_seller(request: Request, seller_id: SellerIdP) -> dict[str, Any]:
    deps = request.app.state.deps
    require_seller(request, deps.keys, seller_id)
    profile = await asyncio.to_thread(directory_of(request).get, seller_id)
    if profile is None:
        raise HTTPException(404, detail=f"no profile for seller {seller_id}")
    return profile.public()


@router.delete("/v1/sellers/{seller_id}", status_code=204)
async def delete_seller(request: Request, seller_id: SellerIdP) -> None:
    """Remove the profile (no more scheduled re-syncs or webhooks); products stay."""
    deps = request.app.state.deps
    require_admin(request, deps.keys)
    if not await asyncio.to_thread(directory_of(request).delete, seller_id):
        raise HTTPException(404, detail=f"no profile for seller {seller_id}")
