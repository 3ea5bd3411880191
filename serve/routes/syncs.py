"""Sync routes: start a seller's sync, read its progress, stream it as server-sent events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from pipeline.errors import PermanentError
from pipeline.keys import Principal
from pipeline.records import ID_PATTERN, JOB_ID_PATTERN, Priority
from pipeline.syncs import SyncConflict, start_sync, sync_view
from serve.guards import require_key, require_seller
from serve.schemas import SyncAccepted, SyncRequest
from serve.stream_caps import StreamCaps

router = APIRouter(tags=["syncs"])

SellerIdP = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
SyncIdP = Annotated[str, Path(pattern=JOB_ID_PATTERN)]
SSE_POLL_S = 0.5
SSE_MAX_S = 3600


class SyncConflictOut(BaseModel):
    detail: str
    sync_id: str
    catalog_url: str


@router.post(
    "/v1/sellers/{seller_id}/sync",
    status_code=202,
    response_model=SyncAccepted,
    responses={409: {"model": SyncConflictOut, "description": "another catalog URL is syncing"}},
)
async def post_sync(
    request: Request, seller_id: SellerIdP, body: SyncRequest
) -> SyncAccepted | JSONResponse:
    """Queue a catalog sync (202). A sync already running for this seller with the same
    catalog URL is returned (``existing: true``); one running with another URL is a 409
    naming it and its URL; a private, loopback, link-local or metadata address is a 422."""
    deps = request.app.state.deps
    require_seller(request, deps.keys, seller_id)
    try:
        started = await asyncio.to_thread(
            start_sync,
            deps.ledger,
            deps.redis,
            seller_id,
            body.catalog_url,
            priority=Priority.parse(body.priority) if body.priority else None,
            source=body.source.value,
            check_url=deps.check_url,
        )
    except PermanentError as exc:
        raise HTTPException(422, detail=str(exc)) from exc
    except SyncConflict as exc:
        out = SyncConflictOut(detail=str(exc), sync_id=exc.sync_id, catalog_url=exc.catalog_url)
        return JSONResponse(out.model_dump(), status_code=409)
    return SyncAccepted(sync_id=started.sync_id, existing=started.existing)


async def _owned_view(request: Request, sync_id: str) -> tuple[Principal, dict[str, Any]]:
    """The sync's view for a key that may act for its seller. Another seller's sync is a
    404 like an unknown one, so a key cannot probe which ids exist."""
    deps = request.app.state.deps
    principal = require_key(request, deps.keys)
    view = await asyncio.to_thread(sync_view, deps.ledger, deps.redis, sync_id)
    if view is None or not principal.may_act_for(str(view["seller_id"])):
        raise HTTPException(404, detail=f"no sync {sync_id}")
    return principal, view


@router.get("/v1/syncs/{sync_id}")
async def get_sync(request: Request, sync_id: SyncIdP) -> dict[str, Any]:
    """The sync's state and counts; the seller's key (or an admin key) is required."""
    _, view = await _owned_view(request, sync_id)
    return view


@router.get("/v1/syncs/{sync_id}/events")
async def sync_events(request: Request, sync_id: SyncIdP) -> StreamingResponse:
    """Server-sent events: a ``progress`` event whenever the sync's counts change, then
    ``end`` once it has ended (``completed``, ``completed_with_errors`` or ``failed``).

    The seller's key (or an admin key) is required; a key may hold a few streams at once
    and a sync a few more (429 past either cap). Each poll reads O(1) keys: the product
    counts are kept current by the stages (``pipeline.product_counts``)."""
    deps = request.app.state.deps
    principal, _ = await _owned_view(request, sync_id)
    caps: StreamCaps = deps.stream_caps
    slot = caps.acquire(principal.key_id, sync_id)
    if slot is None:
        raise HTTPException(
            429, detail="too many open progress streams", headers={"Retry-After": "10"}
        )

    async def stream() -> AsyncIterator[str]:
        try:
            last = None
            loop = asyncio.get_running_loop()
            deadline = loop.time() + SSE_MAX_S
            while loop.time() < deadline:
                if await request.is_disconnected():
                    return
                view = await asyncio.to_thread(sync_view, deps.ledger, deps.redis, sync_id)
                if view is None:
                    return
                snapshot = json.dumps(view, default=str, sort_keys=True)
                if snapshot != last:
                    last = snapshot
                    yield f"event: progress\ndata: {snapshot}\n\n"
                if view["ended"]:
                    yield f"event: end\ndata: {snapshot}\n\n"
                    return
                await asyncio.sleep(SSE_POLL_S)
        finally:
            slot.release()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
        background=BackgroundTask(slot.release),  # if the stream never started
    )
