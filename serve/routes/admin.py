"""Operator routes: queue stats, dead letters, replay; health and readiness."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse

from pipeline.records import ID_PATTERN, JobType
from serve.guards import require_admin

router = APIRouter(tags=["admin"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (no dependency is checked)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Redis, the vector store, the keyword index and the embedder all answer."""
    checks = await request.app.state.deps.readiness()
    ready = all(checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/v1/queues")
async def queues(request: Request) -> dict[str, Any]:
    deps = request.app.state.deps
    require_admin(request, deps.keys)
    stats = await asyncio.to_thread(deps.ledger.stats)
    out: dict[str, Any] = stats.to_dict()
    return out


@router.get("/v1/dlq")
async def dlq(
    request: Request,
    type: Annotated[JobType | None, Query()] = None,
    seller_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    deps = request.app.state.deps
    require_admin(request, deps.keys)
    jobs = await asyncio.to_thread(
        deps.ledger.dlq_list, type=type, seller_id=seller_id, limit=limit, offset=offset
    )
    return {"jobs": [job.to_dict() for job in jobs], "limit": limit, "offset": offset}


@router.post("/v1/dlq/{job_id}/replay")
async def replay(
    request: Request, job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
) -> dict[str, Any]:
    deps = request.app.state.deps
    require_admin(request, deps.keys)
    if not await asyncio.to_thread(deps.ledger.replay, job_id):
        raise HTTPException(404, detail=f"no dead job {job_id}")
    return {"job_id": job_id, "replayed": True}
