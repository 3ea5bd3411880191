"""Operator routes: queue stats, health and readiness (dead letters: ``serve.routes.dlq``)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

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
