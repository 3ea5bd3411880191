"""Dead-letter routes (admin key): list, count, read one, replay and purge.

They call the ledger's own operations (``RedisLedger.dlq_list``, ``replay_many``,
``purge``), the same ones ``catalog-sync dlq`` calls, so the CLI, the API and the
dashboard cannot disagree on what a selection means.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from pipeline.records import ID_PATTERN, JOB_ID_PATTERN, JobType
from serve.guards import admin_only
from serve.schemas import DeadLetterSelection

router = APIRouter(tags=["admin"], dependencies=[Depends(admin_only)])

JobIdP = Annotated[str, Path(pattern=JOB_ID_PATTERN)]


@router.get("/v1/dlq")
async def dlq(
    request: Request,
    type: Annotated[JobType | None, Query()] = None,
    seller_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    """Dead jobs, newest first, and how many match the filters in all."""
    deps = request.app.state.deps

    def read() -> tuple[list[Any], int]:
        jobs = deps.ledger.dlq_list(type=type, seller_id=seller_id, limit=limit, offset=offset)
        return jobs, deps.ledger.dlq_count(type=type, seller_id=seller_id)

    jobs, total = await asyncio.to_thread(read)
    return {"jobs": [j.to_dict() for j in jobs], "total": total, "limit": limit, "offset": offset}


@router.get("/v1/dlq/{job_id}")
async def dead_job(request: Request, job_id: JobIdP) -> dict[str, Any]:
    """One dead job: payload, attempts (each with its error and traceback), last error."""
    deps = request.app.state.deps
    job = await asyncio.to_thread(deps.ledger.dlq_get, job_id)
    if job is None:
        raise HTTPException(404, detail=f"no dead job {job_id}")
    out: dict[str, Any] = job.to_dict()
    return out


@router.post("/v1/dlq/{job_id}/replay")
async def replay(request: Request, job_id: JobIdP) -> dict[str, Any]:
    deps = request.app.state.deps
    if not await asyncio.to_thread(deps.ledger.replay, job_id):
        raise HTTPException(404, detail=f"no dead job {job_id}")
    return {"job_id": job_id, "replayed": True}


@router.post("/v1/dlq/replay")
async def replay_selected(request: Request, body: DeadLetterSelection) -> dict[str, int]:
    """Send the selected dead jobs back to their queues with fresh attempts."""
    deps = request.app.state.deps
    count = await asyncio.to_thread(
        deps.ledger.replay_many, body.job_ids, type=body.type, seller_id=body.seller_id
    )
    return {"replayed": count}


@router.post("/v1/dlq/purge")
async def purge_selected(request: Request, body: DeadLetterSelection) -> dict[str, int]:
    """Delete the selected dead jobs for good."""
    deps = request.app.state.deps
    count = await asyncio.to_thread(
        deps.ledger.purge, body.job_ids, type=body.type, seller_id=body.seller_id
    )
    return {"purged": count}
