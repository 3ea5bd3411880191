"""Sync routes: start a seller's sync, read its progress, stream it as server-sent events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import StreamingResponse

from pipeline.errors import PermanentError
from pipeline.records import ID_PATTERN, Priority
from pipeline.syncs import start_sync, sync_view
from serve.guards import require_seller
from serve.schemas import SyncAccepted, SyncRequest

router = APIRouter(tags=["syncs"])

SellerIdP = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
SyncIdP = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
SSE_POLL_S = 0.5
SSE_MAX_S = 3600


@router.post("/v1/sellers/{seller_id}/sync", status_code=202, response_model=SyncAccepted)
async def post_sync(request: Request, seller_id: SellerIdP, body: SyncRequest) -> SyncAccepted:
    """Queue a catalog sync (202); a sync already running for this seller is returned."""
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
    return SyncAccepted(sync_id=started.sync_id, existing=started.existing)


@router.get("/v1/syncs/{sync_id}")
async def get_sync(request: Request, sync_id: SyncIdP) -> dict[str, Any]:
    deps = request.app.state.deps
    view = await asyncio.to_thread(sync_view, deps.ledger, deps.redis, sync_id)
    if view is None:
        raise HTTPException(404, detail=f"no sync {sync_id}")
    return view


@router.get("/v1/syncs/{sync_id}/events")
async def sync_events(request: Request, sync_id: SyncIdP) -> StreamingResponse:
    """Server-sent events: a ``progress`` event whenever the sync's counts change, then
    ``end`` when it has completed or died."""
    deps = request.app.state.deps
    first = await asyncio.to_thread(sync_view, deps.ledger, deps.redis, sync_id)
    if first is None:
        raise HTTPException(404, detail=f"no sync {sync_id}")

    async def stream() -> AsyncIterator[str]:
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
            if view["state"] in ("completed", "dead"):
                yield f"event: end\ndata: {snapshot}\n\n"
                return
            await asyncio.sleep(SSE_POLL_S)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
