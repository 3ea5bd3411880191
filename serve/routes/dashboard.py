"""The operator dashboard: ``GET /`` (a static page, no CDN) and its data endpoint.

The page asks for the admin key once and keeps it in ``sessionStorage``; every refresh it
calls ``GET /v1/ops/timeseries`` (admin only), which takes a ledger sample when one is due
(so the series grows even where no worker samples) and returns the series, the alerts,
dead letters, per-seller sync progress, workers and search timings in one answer, and
``GET /v1/ops/sellers`` for each seller's latest sync outcome. Dead letters are read,
replayed and purged through ``serve.routes.dlq``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from pipeline.ops import alerts
from pipeline.ops.ledgerview import sync_rows
from pipeline.ops.seller_outcomes import seller_outcomes
from serve.deps import ApiDeps
from serve.guards import require_admin
from serve.static import PackagePage

router = APIRouter(tags=["ops"])

DASHBOARD = PackagePage(
    "serve.dashboard",
    "dashboard.html",
    (
        "dashboard.css",
        "dashboard.js",
        "dashboard-dom.js",
        "dashboard-charts.js",
        "dashboard-dlq.js",
    ),
    csp="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
)


@router.get("/", include_in_schema=False)
async def dashboard_page() -> Response:
    return DASHBOARD.page()


@router.get("/dashboard/assets/{name}", include_in_schema=False)
async def dashboard_asset(name: str) -> Response:
    return DASHBOARD.asset(name)


@router.get("/v1/ops/timeseries")
async def timeseries(
    request: Request, limit: Annotated[int, Query(ge=1, le=10_000)] = 360
) -> dict[str, Any]:
    """Samples (oldest first), alerts, dead letters, syncs and search timings."""
    from serve.routes.metrics import ops_state

    deps: ApiDeps = request.app.state.deps
    require_admin(request, deps.keys)
    state = ops_state(request)
    return await asyncio.to_thread(_snapshot, deps, state, limit)


def _snapshot(deps: ApiDeps, state: Any, limit: int) -> dict[str, Any]:
    firing = alerts.check(deps.ledger, deps.redis, deps.settings.ops)
    if any(a.rule == alerts.REDIS_DOWN for a in firing):
        raise HTTPException(503, detail="Redis does not answer")
    state.sampler.sample_if_due()
    now = time.time()
    dead = deps.ledger.dlq_list(limit=10)
    return {
        "now": now,
        "interval_s": deps.settings.ops.sample_interval_s,
        "samples": state.sampler.read(limit),
        "alerts": [a.to_dict() for a in firing],
        "dead_letters": [
            {
                "job_id": j.id,
                "type": j.type.value,
                "seller_id": j.seller_id,
                "finished_at": j.finished_at,
                "error": str((j.last_error or {}).get("message", ""))[:300],
            }
            for j in dead
        ],
        "syncs": sync_rows(deps.ledger, deps.redis, now),
        "workers": [
            {**asdict(c), "stale": c.age_s > deps.settings.ops.alert_heartbeat_s}
            for c in deps.ledger.consumers()
        ],
        "search": state.timings.summary(deps.redis, now),
    }


@router.get("/v1/ops/sellers")
async def sellers(
    request: Request, limit: Annotated[int, Query(ge=1, le=200)] = 30
) -> dict[str, Any]:
    """Each seller's latest sync outcome: state, products per outcome, skipped products
    with their reasons, dead jobs per stage and the first error."""
    deps: ApiDeps = request.app.state.deps
    require_admin(request, deps.keys)
    rows = await asyncio.to_thread(seller_outcomes, deps.ledger, deps.redis, limit)
    return {"sellers": rows}
